"""Payload budget and offload: keep checkpoints under the service's size limits.

The service bounds what a checkpoint may hold (``OperationUpdate.Payload`` at most
6 MB in boto3's service model; a child context's result above 256 KB is not recorded
and its children replay instead, as in AWS's SDK; a handler's response at most 6 MB).
Two tools here:

* **Budget warnings** on the ``durable.budget`` logger when a step result reaches
  ``BUDGET_WARNING_RATIO`` of its limit, before the service refuses it.
* **Offload**: with ``StepConfig(offload=Offload(store))`` a step result larger than
  ``threshold_bytes`` is put in a ``PayloadStore`` (e.g. ``S3PayloadStore``) and the
  checkpoint holds a small reference instead::

      {"$durable_ref": "s3://bucket/key", "preview": "<first 200 chars>",
       "size": 1234567, "sha256": "<hex of the stored bytes>"}

  Replay reads the reference and fetches the bytes, so the value replays exactly. The
  ``$`` key cannot be produced by the default serdes (whose envelopes are ``{"t", "v"}``
  objects) and a reference is only looked for when the step has an ``Offload``. An
  object that is gone raises ``PayloadNotFoundError``; one whose bytes changed raises
  ``PayloadStoreError``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from durable_core.errors import DurableError, PayloadTooLargeError, ValidationError

if TYPE_CHECKING:
    from durable_core._replay import OperationCall

__all__ = [
    "BUDGET_WARNING_RATIO",
    "CHILD_RESULT_LIMIT_BYTES",
    "MAX_OPERATIONS",
    "PAYLOAD_LIMIT_BYTES",
    "RESPONSE_LIMIT_BYTES",
    "MemoryPayloadStore",
    "Offload",
    "PayloadNotFoundError",
    "PayloadStore",
    "PayloadStoreError",
    "S3PayloadStore",
    "check_payload_size",
    "checkpointed_payload",
    "recorded_payload",
    "warn_near_limit",
]

# OperationUpdate.Payload max length in boto3's service model.
PAYLOAD_LIMIT_BYTES = 6_291_456
# A child context's result above this is not recorded (AWS's SDK: ReplayChildren).
CHILD_RESULT_LIMIT_BYTES = 256 * 1024
# Lambda's synchronous response limit, which bounds the handler's result.
RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024
# The largest history of one execution, as AWS documents for its durable SDKs.
MAX_OPERATIONS = 25_000
# Warn once a size reaches this share of its limit.
BUDGET_WARNING_RATIO = 0.8

_REF_KEY = "$durable_ref"
_REF_KEYS = frozenset({_REF_KEY, "preview", "size", "sha256"})
_PREVIEW_CHARS = 200

budget_log = logging.getLogger("durable.budget")


class PayloadStoreError(DurableError):
    """An offloaded payload could not be stored or read back intact."""

    code = "PayloadStore"


class PayloadNotFoundError(PayloadStoreError):
    """The object a checkpoint refers to is gone (deleted, expired, wrong bucket)."""

    code = "PayloadNotFound"


@runtime_checkable
class PayloadStore(Protocol):
    """Where large results live: ``put`` returns a reference that ``get`` accepts.

    ``put`` may be called again with the same key (a retried step): it overwrites.
    ``get`` raises ``PayloadNotFoundError`` for a reference it no longer holds.
    """

    def put(self, key: str, data: bytes) -> str: ...

    def get(self, ref: str) -> bytes: ...


class MemoryPayloadStore:
    """A store in this process: for tests and the local service."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes) -> str:
        with self._lock:
            self.objects[key] = data
        return f"memory://{key}"

    def get(self, ref: str) -> bytes:
        key = ref.removeprefix("memory://")
        with self._lock:
            if key not in self.objects:
                raise PayloadNotFoundError(f"no payload stored at {ref}")
            return self.objects[key]


class S3PayloadStore:
    """Objects in an S3 bucket under ``prefix``; references are ``s3://bucket/key`` URLs.

    ``client`` defaults to ``boto3.client("s3")``. The function's role needs
    ``s3:PutObject`` and ``s3:GetObject`` on the prefix; a lifecycle rule may expire
    objects once executions that refer to them are past their retention.
    """

    def __init__(self, bucket: str, prefix: str = "durable-payloads/", client: Any = None) -> None:
        if not bucket:
            raise ValidationError("S3PayloadStore needs a bucket")
        self.bucket = bucket
        self.prefix = prefix
        if client is None:
            import boto3

            client = boto3.client("s3")
        self._client = client

    def put(self, key: str, data: bytes) -> str:
        object_key = f"{self.prefix}{key}"
        self._client.put_object(Bucket=self.bucket, Key=object_key, Body=data)
        return f"s3://{self.bucket}/{object_key}"

    def get(self, ref: str) -> bytes:
        bucket, _, key = ref.removeprefix("s3://").partition("/")
        try:
            response = self._client.get_object(Bucket=bucket, Key=key)
        except self._client.exceptions.NoSuchKey:
            raise PayloadNotFoundError(f"no payload stored at {ref}") from None
        except self._client.exceptions.NoSuchBucket:
            raise PayloadNotFoundError(f"no bucket {bucket!r} for payload {ref}") from None
        body: bytes = response["Body"].read()
        return body


@dataclass(frozen=True)
class Offload:
    """Put a step's result in ``store`` when its encoded size exceeds ``threshold_bytes``."""

    store: PayloadStore
    threshold_bytes: int = CHILD_RESULT_LIMIT_BYTES

    def __post_init__(self) -> None:
        if not isinstance(self.store, PayloadStore):
            raise ValidationError("Offload.store must have put(key, data) and get(ref)")
        if self.threshold_bytes < 1:
            raise ValidationError("Offload.threshold_bytes must be positive")


def warn_near_limit(what: str, size: int, limit: int, where: str) -> None:
    """Log on ``durable.budget`` when ``size`` reaches ``BUDGET_WARNING_RATIO`` of ``limit``."""
    if size >= limit * BUDGET_WARNING_RATIO:
        budget_log.warning(
            "%s of %s is %d bytes, %.0f%% of the %d-byte limit",
            what,
            where,
            size,
            size / limit * 100,
            limit,
            extra={"size_bytes": size, "limit_bytes": limit, "operation": where},
        )


def check_payload_size(payload: str, what: str) -> None:
    """Refuse, before it is sent, a payload the service would refuse after the fact.

    The limit is ``OperationPayload``'s maximum length in boto3's service model
    (characters, as botocore validates it). Sent anyway, the whole checkpoint call is
    rejected, the invocation dies and the next one runs the same code again, forever.
    """
    if len(payload) > PAYLOAD_LIMIT_BYTES:
        raise PayloadTooLargeError(
            f"{what} is {len(payload)} characters; a checkpoint holds at most "
            f"{PAYLOAD_LIMIT_BYTES}: return less, or offload it (Offload(store))"
        )


def checkpointed_payload(
    execution_arn: str, call: OperationCall, offload: Offload | None, payload: str
) -> str:
    """What a step checkpoints for ``payload``: itself, or a reference to where it went."""
    data = payload.encode()
    if offload is None or len(data) <= offload.threshold_bytes:
        warn_near_limit("the result", len(data), PAYLOAD_LIMIT_BYTES, call.describe())
        return payload
    digest = hashlib.sha256(data).hexdigest()
    execution = hashlib.blake2b(execution_arn.encode()).hexdigest()[:32]
    ref = offload.store.put(f"{execution}/{call.id}-{digest[:16]}", data)
    reference = {_REF_KEY: ref, "preview": payload[:_PREVIEW_CHARS], "size": len(data)}
    return json.dumps({**reference, "sha256": digest})


def recorded_payload(offload: Offload | None, payload: str | None, where: str) -> str | None:
    """The payload a recorded step result stands for, fetched if it was offloaded."""
    if offload is None or payload is None or not payload.startswith("{"):
        return payload
    try:
        document = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(document, dict) or document.keys() != _REF_KEYS:
        return payload
    try:
        data = offload.store.get(str(document[_REF_KEY]))
    except PayloadNotFoundError as exc:
        raise PayloadNotFoundError(f"{where} was offloaded and cannot be replayed: {exc}") from None
    if hashlib.sha256(data).hexdigest() != document["sha256"]:
        raise PayloadStoreError(
            f"the payload of {where} at {document[_REF_KEY]} changed since it was stored"
        )
    return data.decode()
