"""Where the local service keeps executions: in memory, or in a SQLite file that outlives it.

A stored execution holds everything needed to carry on after a restart: the
operations in creation order (so pending timers are known from them), the newest
checkpoint token, the callbacks (ids, options, last heartbeat: their deadlines) and
chained invokes in flight, the link of a chained execution to its caller, the
scheduling state, the outcome and the history. Handlers are
not stored: a new process registers them again by function name.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import sqlite3
import threading
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from durable_core.backends.memory import CallbackState, ChainedInvokeState
from durable_core.types import ErrorObject, Operation

from durable_testing.history import HistoryEvent

__all__ = ["ExecutionStatus", "ExecutionStore", "MemoryStore", "SqliteStore", "StoredExecution"]


class ExecutionStatus(StrEnum):
    """The status names of ``GetDurableExecution``."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    STOPPED = "STOPPED"


@dataclass
class StoredExecution:
    """One execution as the service keeps it between invocations.

    ``invoke_at`` is when the next invocation is due (``None`` while the execution
    waits only on its timers); ``invocation_started_at`` is set while an invocation
    runs, so a service that died mid-invocation knows to record it as crashed.
    ``callbacks`` and ``chained_invokes`` are the backend's ``ExecutionRecord`` fields of
    the same names; ``parent_arn`` and ``parent_operation_id`` name the CHAINED_INVOKE
    operation this execution completes when it ends (None for an execution started
    directly).
    """

    arn: str
    function_name: str
    status: ExecutionStatus
    operations: list[Operation]
    token: str
    token_seq: int
    start_timestamp: dt.datetime
    end_timestamp: dt.datetime | None = None
    result: str | None = None
    error: ErrorObject | None = None
    events: list[HistoryEvent] = field(default_factory=list)
    invoke_at: dt.datetime | None = None
    invocation_started_at: dt.datetime | None = None
    failed_invocations: int = 0
    invocations: int = 0
    callbacks: dict[str, CallbackState] = field(default_factory=dict)
    chained_invokes: dict[str, ChainedInvokeState] = field(default_factory=dict)
    parent_arn: str | None = None
    parent_operation_id: str | None = None

    def to_json(self) -> str:
        data = {
            "arn": self.arn,
            "function_name": self.function_name,
            "status": self.status.value,
            "operations": [op.to_wire() for op in self.operations],
            "token": self.token,
            "token_seq": self.token_seq,
            "start_timestamp": self.start_timestamp,
            "end_timestamp": self.end_timestamp,
            "result": self.result,
            "error": self.error.to_wire() if self.error else None,
            "events": self.events,
            "invoke_at": self.invoke_at,
            "invocation_started_at": self.invocation_started_at,
            "failed_invocations": self.failed_invocations,
            "invocations": self.invocations,
            "callbacks": {key: asdict(value) for key, value in self.callbacks.items()},
            "chained_invokes": {key: asdict(v) for key, v in self.chained_invokes.items()},
            "parent_arn": self.parent_arn,
            "parent_operation_id": self.parent_operation_id,
        }
        return json.dumps(data, default=_encode_datetime)

    @classmethod
    def from_json(cls, text: str) -> StoredExecution:
        data = json.loads(text, object_hook=_decode_datetimes)
        return cls(
            arn=data["arn"],
            function_name=data["function_name"],
            status=ExecutionStatus(data["status"]),
            operations=[Operation.from_wire(op) for op in data["operations"]],
            token=data["token"],
            token_seq=data["token_seq"],
            start_timestamp=data["start_timestamp"],
            end_timestamp=data["end_timestamp"],
            result=data["result"],
            error=ErrorObject.from_wire(data["error"]) if data["error"] else None,
            events=data["events"],
            invoke_at=data["invoke_at"],
            invocation_started_at=data["invocation_started_at"],
            failed_invocations=data["failed_invocations"],
            invocations=data["invocations"],
            callbacks={k: CallbackState(**v) for k, v in data.get("callbacks", {}).items()},
            chained_invokes={
                k: ChainedInvokeState(**v) for k, v in data.get("chained_invokes", {}).items()
            },
            parent_arn=data.get("parent_arn"),
            parent_operation_id=data.get("parent_operation_id"),
        )


_DATETIME_TAG = "$datetime"


def _encode_datetime(value: object) -> Any:
    if isinstance(value, dt.datetime):
        return {_DATETIME_TAG: value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _decode_datetimes(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATETIME_TAG in obj:
        return dt.datetime.fromisoformat(obj[_DATETIME_TAG])
    return obj


class ExecutionStore(Protocol):
    """Persistence of executions; ``save`` replaces the whole record atomically."""

    def save(self, execution: StoredExecution) -> None: ...

    def load(self, arn: str) -> StoredExecution | None: ...

    def list_executions(self, *, unfinished_only: bool = False) -> list[StoredExecution]: ...


class MemoryStore:
    """Executions in a dict; each save stores a copy, so later edits do not leak in."""

    def __init__(self) -> None:
        self._executions: dict[str, StoredExecution] = {}
        self._lock = threading.Lock()

    def save(self, execution: StoredExecution) -> None:
        with self._lock:
            self._executions[execution.arn] = copy.deepcopy(execution)

    def load(self, arn: str) -> StoredExecution | None:
        with self._lock:
            stored = self._executions.get(arn)
            return copy.deepcopy(stored) if stored is not None else None

    def list_executions(self, *, unfinished_only: bool = False) -> list[StoredExecution]:
        with self._lock:
            return [
                copy.deepcopy(e)
                for e in self._executions.values()
                if not unfinished_only or e.status is ExecutionStatus.RUNNING
            ]


_SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    arn TEXT PRIMARY KEY,
    function_name TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TEXT NOT NULL,
    record TEXT NOT NULL
)
"""


class SqliteStore:
    """Executions in one SQLite file: a process killed mid-wait leaves them resumable.

    Each save is one transaction, so a kill between two saves leaves the previous,
    consistent record. Safe to share between threads of one process.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        with self._db:
            self._db.execute(_SCHEMA)

    def save(self, execution: StoredExecution) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO executions (arn, function_name, status, started_at, record)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    execution.arn,
                    execution.function_name,
                    execution.status.value,
                    execution.start_timestamp.isoformat(),
                    execution.to_json(),
                ),
            )

    def load(self, arn: str) -> StoredExecution | None:
        with self._lock:
            row = self._db.execute("SELECT record FROM executions WHERE arn = ?", (arn,)).fetchone()
        return StoredExecution.from_json(row[0]) if row else None

    def list_executions(self, *, unfinished_only: bool = False) -> list[StoredExecution]:
        query = "SELECT record FROM executions"
        if unfinished_only:
            query += " WHERE status = 'RUNNING'"
        with self._lock:
            rows = self._db.execute(query + " ORDER BY started_at").fetchall()
        return [StoredExecution.from_json(row[0]) for row in rows]

    def close(self) -> None:
        self._db.close()
