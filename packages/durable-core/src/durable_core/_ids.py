"""Deterministic operation ids, byte-identical to AWS's SDK.

The n-th operation of a context (counting from 1) has id
``blake2b(str(n))[:64]`` at the root and ``blake2b(f"{parent_id}-{n}")[:64]`` inside
a child context whose own operation id is ``parent_id``. Ids depend only on the
position of a call, so replay finds each operation's record without names.
"""

from __future__ import annotations

import hashlib
import threading

__all__ = ["IdNamespace", "operation_id"]


def operation_id(prefix: str | None, position: int) -> str:
    """The id of the operation at ``position`` (1-based) of the context ``prefix``."""
    raw = f"{prefix}-{position}" if prefix else str(position)
    return hashlib.blake2b(raw.encode()).hexdigest()[:64]


class IdNamespace:
    """Hands out the ids of one context in call order; safe to share between threads."""

    __slots__ = ("_count", "_lock", "_peeked", "prefix")

    def __init__(self, prefix: str | None) -> None:
        self.prefix = prefix
        self._count = 0
        self._lock = threading.Lock()
        # The engine peeks at the next id after every operation and then takes it: keep
        # the hash of the last peek so each id is hashed once.
        self._peeked: tuple[int, str] = (0, "")

    def next_id(self) -> str:
        with self._lock:
            self._count += 1
            position = self._count
        return self._id_at(position)

    def peek_id(self) -> str:
        """The id the next call will get, without taking it."""
        return self._id_at(self._count + 1)

    def _id_at(self, position: int) -> str:
        peeked = self._peeked
        if peeked[0] == position:
            return peeked[1]
        op_id = operation_id(self.prefix, position)
        self._peeked = (position, op_id)
        return op_id
