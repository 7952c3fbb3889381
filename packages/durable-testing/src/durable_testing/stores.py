"""Where the local service keeps executions: in memory, or in a SQLite file that outlives it.

A stored execution holds everything needed to carry on after a restart: the
operations in creation order (so pending timers are known from them), the newest
checkpoint token, the callbacks (ids, options, last heartbeat: their deadlines) and
chained invokes in flight, the link of a chained execution to its caller, the
scheduling state, the outcome and the history. Handlers are
not stored: a new process registers them again by function name.

A save costs what changed, not the size of the execution: operations are immutable
and history events are never changed once recorded, so a store writes the operations
the service names as changed and the events after those it holds, and shares rather
than copies them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import sqlite3
import sys
import threading
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from durable_core.backends.memory import CallbackState, ChainedInvokeState
from durable_core.errors import qualified_type_name
from durable_core.types import ErrorObject, Operation

from durable_testing.history import HistoryEvent

__all__ = [
    "ExecutionStatus",
    "ExecutionStore",
    "ExecutionSummary",
    "MemoryStore",
    "SqliteStore",
    "StoreInUseError",
    "StoreOwner",
    "StoredExecution",
    "UnreadableRecordError",
]


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
    directly). ``handler`` is where the handler came from (``MODULE:HANDLER``, as the
    ``durable`` command loaded it; None when registered in code), so another process can
    load it again and resume the execution.

    ``changed_operations`` is not stored: the service names in it, by id and in the order
    they changed, the operations changed since its last save of this execution, so a
    store that holds the execution writes only those. ``None`` (a record built or loaded
    by anyone else) makes a store write every operation.
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
    handler: str | None = None
    changed_operations: dict[str, Operation] | None = field(default=None, compare=False, repr=False)

    def to_json(self) -> str:
        """The whole record as JSON (``from_json`` reads it back)."""
        data = self._header()
        data["operations"] = [op.to_wire() for op in self.operations]
        data["events"] = self.events
        return _dumps(data)

    @classmethod
    def from_json(cls, text: str) -> StoredExecution:
        data = json.loads(text, object_hook=_decode_datetimes)
        operations = [Operation.from_wire(op) for op in data["operations"]]
        return cls._from_header(data, operations, data["events"])

    def _header(self) -> dict[str, Any]:
        """Everything but the operations and the events: small, rewritten on every save."""
        return {
            "arn": self.arn,
            "function_name": self.function_name,
            "status": self.status.value,
            "token": self.token,
            "token_seq": self.token_seq,
            "start_timestamp": self.start_timestamp,
            "end_timestamp": self.end_timestamp,
            "result": self.result,
            "error": self.error.to_wire() if self.error else None,
            "invoke_at": self.invoke_at,
            "invocation_started_at": self.invocation_started_at,
            "failed_invocations": self.failed_invocations,
            "invocations": self.invocations,
            "callbacks": {key: asdict(value) for key, value in self.callbacks.items()},
            "chained_invokes": {key: asdict(v) for key, v in self.chained_invokes.items()},
            "parent_arn": self.parent_arn,
            "parent_operation_id": self.parent_operation_id,
            "handler": self.handler,
        }

    @classmethod
    def _from_header(
        cls, data: dict[str, Any], operations: list[Operation], events: list[HistoryEvent]
    ) -> StoredExecution:
        return cls(
            arn=data["arn"],
            function_name=data["function_name"],
            status=ExecutionStatus(data["status"]),
            operations=operations,
            token=data["token"],
            token_seq=data["token_seq"],
            start_timestamp=data["start_timestamp"],
            end_timestamp=data["end_timestamp"],
            result=data["result"],
            error=ErrorObject.from_wire(data["error"]) if data["error"] else None,
            events=events,
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
            handler=data.get("handler"),
        )

    def _copy(self, operations: list[Operation], events: list[HistoryEvent]) -> StoredExecution:
        """This record with these lists and its own copies of the mutable service state
        (a callback's last heartbeat, an invoke's child ARN): everything else it holds is
        immutable, so the copy shares it."""
        return dataclasses.replace(
            self,
            operations=operations,
            events=events,
            callbacks={k: dataclasses.replace(v) for k, v in self.callbacks.items()},
            chained_invokes={k: dataclasses.replace(v) for k, v in self.chained_invokes.items()},
            changed_operations=None,
        )


@dataclass(frozen=True)
class ExecutionSummary:
    """What a listing shows of an execution (``ListDurableExecutionsByFunction``'s
    ``Execution``), read without its operations and history."""

    arn: str
    function_name: str
    status: ExecutionStatus
    start_timestamp: dt.datetime
    end_timestamp: dt.datetime | None


_DATETIME_TAG = "$datetime"


def _encode_datetime(value: object) -> Any:
    if isinstance(value, dt.datetime):
        return {_DATETIME_TAG: value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _decode_datetimes(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and _DATETIME_TAG in obj:
        return dt.datetime.fromisoformat(obj[_DATETIME_TAG])
    return obj


def _dumps(value: object) -> str:
    return json.dumps(value, default=_encode_datetime)


class ExecutionStore(Protocol):
    """Persistence of executions; ``save`` replaces the record atomically.

    A store may write only ``execution.changed_operations`` and the events after those it
    holds when it already holds the execution (the service keeps both append-only and
    never changes a recorded event); the record it then holds is the one it was given.
    """

    def save(self, execution: StoredExecution) -> None: ...

    def load(self, arn: str) -> StoredExecution | None: ...

    def list_executions(self, *, unfinished_only: bool = False) -> list[StoredExecution]: ...

    def summaries(self, function_name: str | None = None) -> list[ExecutionSummary]:
        """Every execution (of ``function_name``) without operations and history, in start
        order: what a listing needs, at a fraction of ``list_executions``'s cost."""
        ...

    def callback_execution(self, callback_id: str) -> str | None:
        """The ARN of the execution that created callback ``callback_id``, if any: a
        look-up, not a scan of every execution."""
        ...


@dataclass
class _Kept:
    """One execution in a ``MemoryStore``: its header record (empty lists), its operations
    by id in creation order, its events."""

    header: StoredExecution
    operations: dict[str, Operation]
    events: list[HistoryEvent]

    def snapshot(self) -> StoredExecution:
        return self.header._copy(list(self.operations.values()), list(self.events))


class MemoryStore:
    """Executions in a dict. A save costs what changed: the operations the service changed
    and the new events are added to what the store holds (both immutable, so shared);
    the record's own fields and mutable service state are copied. A record handed out is
    a copy that later saves do not change, and whose edits do not leak in."""

    def __init__(self) -> None:
        self._executions: dict[str, _Kept] = {}
        self._callbacks: dict[str, str] = {}
        self._lock = threading.Lock()

    def save(self, execution: StoredExecution) -> None:
        with self._lock:
            for callback_id in execution.callbacks:
                self._callbacks.setdefault(callback_id, execution.arn)
            kept = self._executions.get(execution.arn)
            changed = execution.changed_operations
            if kept is None or changed is None or len(execution.events) < len(kept.events):
                kept = _Kept(
                    execution._copy([], []),
                    {op.id: op for op in execution.operations},
                    list(execution.events),
                )
                self._executions[execution.arn] = kept
            else:
                kept.header = execution._copy([], [])
                kept.operations.update(changed)
                kept.events.extend(execution.events[len(kept.events) :])

    def load(self, arn: str) -> StoredExecution | None:
        with self._lock:
            kept = self._executions.get(arn)
            return kept.snapshot() if kept is not None else None

    def list_executions(self, *, unfinished_only: bool = False) -> list[StoredExecution]:
        with self._lock:
            return [
                kept.snapshot()
                for kept in self._executions.values()
                if not unfinished_only or kept.header.status is ExecutionStatus.RUNNING
            ]

    def summaries(self, function_name: str | None = None) -> list[ExecutionSummary]:
        with self._lock:
            headers = [kept.header for kept in self._executions.values()]
        return sorted(
            (_summary_of(h) for h in headers if function_name in (None, h.function_name)),
            key=lambda summary: summary.start_timestamp,
        )

    def callback_execution(self, callback_id: str) -> str | None:
        with self._lock:
            return self._callbacks.get(callback_id)


def _summary_of(execution: StoredExecution) -> ExecutionSummary:
    return ExecutionSummary(
        arn=execution.arn,
        function_name=execution.function_name,
        status=execution.status,
        start_timestamp=execution.start_timestamp,
        end_timestamp=execution.end_timestamp,
    )


# ``record`` holds the header; a file written before operations and events had tables of
# their own holds the whole record there, which ``load`` still reads (the first save of
# such an execution moves it into the tables). Operations keep their creation order as
# their rowid: an upsert (ON CONFLICT DO UPDATE) keeps a row's rowid.
_SCHEMA = (
    """
    CREATE TABLE IF NOT EXISTS executions (
        arn TEXT PRIMARY KEY,
        function_name TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        record TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS operations (
        arn TEXT NOT NULL,
        id TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (arn, id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS events (
        arn TEXT NOT NULL,
        event_id INTEGER NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (arn, event_id)
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS callbacks (
        callback_id TEXT PRIMARY KEY,
        arn TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS executions_by_function ON executions (function_name, started_at)",
)
_SELECT_EXECUTIONS = "SELECT arn, function_name, started_at, record FROM executions"
_UPSERT_OPERATION = (
    "INSERT INTO operations (arn, id, body) VALUES (?, ?, ?)"
    " ON CONFLICT (arn, id) DO UPDATE SET body = excluded.body"
)


@dataclass(frozen=True)
class StoreOwner:
    """The process that writes a SQLite store, as it describes itself in ``<store>.owner``:
    ``endpoint`` is where it takes Lambda API calls (a ``durable serve``), if anywhere."""

    pid: int
    command: str
    endpoint: str | None = None


class StoreInUseError(Exception):
    """Another process writes this SQLite store. Two writers would each resume its
    executions and run every step twice, and overwrite each other's records, so the
    second one is refused when it opens the store. ``owner`` is ``None`` when the owner
    has not described itself yet."""

    def __init__(self, path: Path, owner: StoreOwner | None) -> None:
        who = f"process {owner.pid} ({owner.command})" if owner else "another process"
        served = (
            f", which serves the Lambda API on {owner.endpoint}" if owner and owner.endpoint else ""
        )
        super().__init__(
            f"the store {path} is in use by {who}{served}; one process writes a store at a time"
        )
        self.path = path
        self.owner = owner


class _OwnerLock:
    """A process's hold on a store file: an exclusive ``flock`` on ``<store>.owner``.

    The kernel drops it when the process dies, however it dies, so a store is never left
    locked by a killed process. It is taken once per process and file and shared by every
    ``SqliteStore`` of that file in the process (a test restarting a service in-process
    opens the file again while the first store is still referenced); the last
    ``close()`` releases it.
    """

    _held: dict[Path, tuple[int, int]] = {}
    _guard = threading.Lock()

    @classmethod
    def acquire(cls, path: Path) -> Path:
        key = path.resolve()
        with cls._guard:
            if key in cls._held:
                fd, users = cls._held[key]
                cls._held[key] = (fd, users + 1)
                return key
            # Not inherited by child processes (PEP 446): the lock stays this process's.
            fd = os.open(key.with_name(key.name + ".owner"), os.O_RDWR | os.O_CREAT)
            if not _lock_exclusively(fd):
                owner = _read_owner(fd)
                os.close(fd)
                raise StoreInUseError(path, owner) from None
            cls._held[key] = (fd, 1)
            _write_owner(fd, StoreOwner(os.getpid(), _command()))
            return key

    @classmethod
    def describe(cls, key: Path, owner: StoreOwner) -> None:
        with cls._guard:
            if key in cls._held:
                _write_owner(cls._held[key][0], owner)

    @classmethod
    def release(cls, key: Path) -> None:
        with cls._guard:
            fd, users = cls._held[key]
            if users > 1:
                cls._held[key] = (fd, users - 1)
                return
            del cls._held[key]
            os.ftruncate(fd, 0)
            os.close(fd)


if sys.platform == "win32":
    import msvcrt

    def _lock_exclusively(fd: int) -> bool:
        """Lock the first byte (Windows has no flock); the owner's description may then
        be unreadable to others, who report "another process"."""
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _lock_exclusively(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


def _command() -> str:
    """How this process was started, for the message another one shows (``cli.py serve``)."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:2]]) if sys.argv else "python"


def _write_owner(fd: int, owner: StoreOwner) -> None:
    data = json.dumps(asdict(owner)).encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


def _read_owner(fd: int) -> StoreOwner | None:
    """The owner's description; ``None`` while it is still being written."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return StoreOwner(**json.loads(os.read(fd, 4096)))
    except (OSError, ValueError, TypeError):
        return None


class UnreadableRecordError(Exception):
    """A stored execution whose rows cannot be read back: it is reported ``FAILED`` with
    this error type (``durable_testing.stores.UnreadableRecordError``), the rest go on."""


def _started_at(text: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return dt.datetime.fromtimestamp(0, dt.UTC)


class SqliteStore:
    """Executions in one SQLite file: a process killed mid-wait leaves them resumable.

    Each save is one transaction (the header, the changed operations, the new events),
    so a kill between two saves leaves the previous, consistent record. The first save
    of an execution in a process writes it whole; later ones write what changed. Safe to
    share between threads of one process.

    One process writes a file at a time: opening it raises ``StoreInUseError`` while
    another process has it open for writing (until that one closes it or dies).
    ``read_only=True`` opens it for reading only, beside its writer (``durable history``
    while ``durable serve`` runs); the file must then exist. The file is in WAL mode, so
    readers never wait for the writer.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._lock = threading.Lock()
        # Events and callback ids (new ones come last) this store has written per
        # execution, which are those the file holds.
        self._events_written: dict[str, int] = {}
        self._callbacks_written: dict[str, int] = {}
        self._owner_key: Path | None = None
        if read_only:
            uri = self.path.resolve().as_uri() + "?mode=ro"
            self._db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._owner_key = _OwnerLock.acquire(self.path)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        # A commit survives the process being killed (not a power cut) without an fsync.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._migrate()

    def _migrate(self) -> None:
        """Files written before listings and callback look-ups had columns and a table of
        their own get them, filled from the records they hold."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(executions)")}
        if "ended_at" in columns:
            return
        self._db.execute("ALTER TABLE executions ADD COLUMN ended_at TEXT")
        for arn, record in self._db.execute("SELECT arn, record FROM executions").fetchall():
            try:
                data = json.loads(record, object_hook=_decode_datetimes)
                ended = data.get("end_timestamp")
                callbacks = list(data.get("callbacks") or {})
            except (ValueError, AttributeError):
                continue  # unreadable: listed as such (see _read_or_mark)
            if isinstance(ended, dt.datetime):
                self._db.execute(
                    "UPDATE executions SET ended_at = ? WHERE arn = ?", (ended.isoformat(), arn)
                )
            self._db.executemany(
                "INSERT OR IGNORE INTO callbacks (callback_id, arn) VALUES (?, ?)",
                [(callback_id, arn) for callback_id in callbacks],
            )

    def advertise(self, endpoint: str) -> None:
        """Tell a process refused this store where its owner takes API calls, so that a
        ``durable callback --store`` can go through it instead."""
        if self._owner_key is not None:
            _OwnerLock.describe(self._owner_key, StoreOwner(os.getpid(), _command(), endpoint))

    def save(self, execution: StoredExecution) -> None:
        if self.read_only:
            raise PermissionError(f"the store {self.path} was opened read-only")
        with self._lock:
            try:
                with self._db:
                    self._write(execution)
            except BaseException:
                # Rolled back: what the file holds of it is unknown here, so the next
                # save writes it whole.
                self._events_written.pop(execution.arn, None)
                self._callbacks_written.pop(execution.arn, None)
                raise
            self._events_written[execution.arn] = len(execution.events)
            self._callbacks_written[execution.arn] = len(execution.callbacks)

    def _write(self, execution: StoredExecution) -> None:
        arn = execution.arn
        written = self._events_written.get(arn)
        changed = execution.changed_operations
        if written is None or changed is None or len(execution.events) < written:
            self._db.execute("DELETE FROM operations WHERE arn = ?", (arn,))
            self._db.execute("DELETE FROM events WHERE arn = ?", (arn,))
            operations, written = execution.operations, 0
        else:
            operations = list(changed.values())
        self._db.executemany(
            _UPSERT_OPERATION, [(arn, op.id, _dumps(op.to_wire())) for op in operations]
        )
        self._db.executemany(
            "INSERT INTO events (arn, event_id, body) VALUES (?, ?, ?)",
            [
                (arn, index, _dumps(event))
                for index, event in enumerate(execution.events[written:], start=written)
            ],
        )
        callbacks = list(execution.callbacks)
        self._db.executemany(
            "INSERT OR IGNORE INTO callbacks (callback_id, arn) VALUES (?, ?)",
            [
                (callback_id, arn)
                for callback_id in callbacks[self._callbacks_written.get(arn, 0) :]
            ],
        )
        self._db.execute(
            "INSERT OR REPLACE INTO executions"
            " (arn, function_name, status, started_at, record, ended_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                arn,
                execution.function_name,
                execution.status.value,
                execution.start_timestamp.isoformat(),
                _dumps(execution._header()),
                execution.end_timestamp.isoformat() if execution.end_timestamp else None,
            ),
        )

    def load(self, arn: str) -> StoredExecution | None:
        with self._lock:
            row = self._db.execute(_SELECT_EXECUTIONS + " WHERE arn = ?", (arn,)).fetchone()
            return self._read_or_mark(*row) if row else None

    def list_executions(self, *, unfinished_only: bool = False) -> list[StoredExecution]:
        query = _SELECT_EXECUTIONS
        if unfinished_only:
            query += " WHERE status = 'RUNNING'"
        with self._lock:
            rows = self._db.execute(query + " ORDER BY started_at").fetchall()
            return [self._read_or_mark(*row) for row in rows]

    def summaries(self, function_name: str | None = None) -> list[ExecutionSummary]:
        query = "SELECT arn, function_name, status, started_at, ended_at FROM executions"
        parameters: tuple[str, ...] = ()
        if function_name is not None:
            query += " WHERE function_name = ?"
            parameters = (function_name,)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY started_at", parameters).fetchall()
        return [
            ExecutionSummary(
                arn=arn,
                function_name=function,
                status=ExecutionStatus(status),
                start_timestamp=_started_at(started),
                end_timestamp=dt.datetime.fromisoformat(ended) if ended else None,
            )
            for arn, function, status, started, ended in rows
        ]

    def callback_execution(self, callback_id: str) -> str | None:
        with self._lock:
            row = self._db.execute(
                "SELECT arn FROM callbacks WHERE callback_id = ?", (callback_id,)
            ).fetchone()
        return str(row[0]) if row else None

    def _read_or_mark(
        self, arn: str, function_name: str, started_at: str, record: str
    ) -> StoredExecution:
        """The stored execution; one whose rows cannot be read (a corrupt file, a foreign
        write) comes back ``FAILED`` with ``UnreadableRecordError``, and only its status
        column is changed (its rows are kept for a post-mortem): one bad record harms one
        execution, never the listing of the others nor the scheduling of theirs."""
        try:
            return self._read(arn, record)
        except Exception as exc:
            error = UnreadableRecordError(f"the stored record of {arn} cannot be read: {exc!r}")
            if not self.read_only:
                # Listings (which read no records) show it failed from now on.
                with self._db:
                    self._db.execute(
                        "UPDATE executions SET status = 'FAILED' WHERE arn = ?", (arn,)
                    )
            return StoredExecution(
                arn=arn,
                function_name=function_name,
                status=ExecutionStatus.FAILED,
                operations=[],
                token="",
                token_seq=0,
                start_timestamp=_started_at(started_at),
                error=ErrorObject(error_type=qualified_type_name(error), error_message=str(error)),
            )

    def _read(self, arn: str, record: str) -> StoredExecution:
        data = json.loads(record, object_hook=_decode_datetimes)
        if "operations" in data:  # written whole, by an earlier version
            return StoredExecution.from_json(record)
        operations = [
            Operation.from_wire(json.loads(body, object_hook=_decode_datetimes))
            for (body,) in self._db.execute(
                "SELECT body FROM operations WHERE arn = ? ORDER BY rowid", (arn,)
            )
        ]
        events = [
            json.loads(body, object_hook=_decode_datetimes)
            for (body,) in self._db.execute(
                "SELECT body FROM events WHERE arn = ? ORDER BY event_id", (arn,)
            )
        ]
        return StoredExecution._from_header(data, operations, events)

    def close(self) -> None:
        """Close the file and, with the process's last store of it, give up writing it."""
        self._db.close()
        if self._owner_key is not None:
            _OwnerLock.release(self._owner_key)
            self._owner_key = None
