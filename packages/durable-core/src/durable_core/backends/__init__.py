"""Backends: the service a durable handler checkpoints to."""

from durable_core.backends.base import CheckpointResponse, DurableBackend, StatePage
from durable_core.backends.lambda_backend import LambdaBackend
from durable_core.backends.memory import MemoryBackend

__all__ = ["CheckpointResponse", "DurableBackend", "LambdaBackend", "MemoryBackend", "StatePage"]
