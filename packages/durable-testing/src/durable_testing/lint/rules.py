"""The determinism rules: what breaks replay, and the names that reveal it.

A durable handler runs again from the top on every invocation; completed operations
return their checkpointed results, but plain code between operations runs again. Any
value that can differ between two runs of that code (the clock, randomness, the
environment, the outside world) makes the handler take another path on replay, and
work done inside a step body is skipped on replay, so its side effects on the
handler's own state vanish. Each rule names one such hazard and its fix.

Call targets are fully qualified names after import aliases are resolved
(``import datetime as dt; dt.datetime.now()`` is ``datetime.datetime.now``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BRANCH_ON_UNCHECKPOINTED",
    "CHILD_OPERATIONS",
    "CLIENT_FACTORIES",
    "DURABLE_OPERATIONS",
    "ENVIRONMENT",
    "ENVIRONMENT_REFERENCES",
    "IO",
    "LOOP_FACTORIES",
    "MUTATING_METHODS",
    "MUTATION_IN_STEP",
    "NOT_AWAITED",
    "OPERATION_IN_STEP",
    "PATH_IO_METHODS",
    "RANDOM",
    "RULES",
    "SESSION_FACTORIES",
    "STEP_OPERATIONS",
    "UUID",
    "WALL_CLOCK",
    "Rule",
    "call_rule",
]


@dataclass(frozen=True)
class Rule:
    """One hazard: a stable code, a short name, why it breaks replay, how to fix it."""

    code: str
    name: str
    why: str
    fix: str


WALL_CLOCK = Rule(
    "DL001",
    "wall-clock",
    "reads the clock outside a step; replay sees another time",
    "move it into a ctx.step and use the step's checkpointed result",
)
RANDOM = Rule(
    "DL002",
    "random",
    "draws random numbers outside a step; replay draws different ones",
    "move it into a ctx.step and use the step's checkpointed result",
)
UUID = Rule(
    "DL003",
    "uuid",
    "creates a random or time-based UUID outside a step; replay creates another",
    "create it inside a ctx.step (or derive a uuid5 from checkpointed data)",
)
ENVIRONMENT = Rule(
    "DL004",
    "environment",
    "reads the process environment outside a step; it may differ on replay",
    "read it inside a ctx.step, or pass it in the execution input",
)
IO = Rule(
    "DL005",
    "io",
    "does network or file I/O outside a step; it runs again, with other results, on replay",
    "move the I/O into a ctx.step so it runs once and its result is checkpointed",
)
MUTATION_IN_STEP = Rule(
    "DL006",
    "mutation-in-step",
    "mutates state captured from outside the step body; on replay the body is skipped "
    "and the mutation never happens",
    "return the value from the step and assign the step's result outside it",
)
OPERATION_IN_STEP = Rule(
    "DL007",
    "operation-in-step",
    "calls a durable operation inside a step body; a step body gets a StepContext, "
    "not the DurableContext, and cannot checkpoint nested operations",
    "call it from the handler after the step, or use ctx.run_in_child_context",
)
BRANCH_ON_UNCHECKPOINTED = Rule(
    "DL008",
    "branch-on-unchecked",
    "branches on a value that was not checkpointed; replay may take the other branch",
    "compute the value inside a ctx.step and branch on the step's result",
)

NOT_AWAITED = Rule(
    "DL009",
    "not-awaited",
    "calls an operation of the async context without awaiting it: the coroutine never "
    "runs, so nothing is checkpointed (and as a condition it is always true)",
    "await it: `await ctx.step(...)`, `if await ctx.patched(...)`",
)

RULES: tuple[Rule, ...] = (
    WALL_CLOCK,
    RANDOM,
    UUID,
    ENVIRONMENT,
    IO,
    MUTATION_IN_STEP,
    OPERATION_IN_STEP,
    BRANCH_ON_UNCHECKPOINTED,
    NOT_AWAITED,
)

_EXACT_CALLS: dict[str, Rule] = {
    **{
        f"time.{name}": WALL_CLOCK
        for name in (
            "time",
            "time_ns",
            "monotonic",
            "monotonic_ns",
            "perf_counter",
            "perf_counter_ns",
            "process_time",
            "process_time_ns",
            "localtime",
            "gmtime",
            "ctime",
        )
    },
    "datetime.datetime.now": WALL_CLOCK,
    "datetime.datetime.utcnow": WALL_CLOCK,
    "datetime.datetime.today": WALL_CLOCK,
    "datetime.date.today": WALL_CLOCK,
    "os.urandom": RANDOM,
    "uuid.uuid1": UUID,
    "uuid.uuid4": UUID,
    "os.getenv": ENVIRONMENT,
    "os.getenvb": ENVIRONMENT,
    "open": IO,
    "io.open": IO,
    **{
        f"asyncio.{name}": IO
        for name in (
            "open_connection",
            "open_unix_connection",
            "start_server",
            "start_unix_server",
            "create_subprocess_exec",
            "create_subprocess_shell",
        )
    },
}

_CALL_PREFIXES: tuple[tuple[str, Rule], ...] = (
    ("random.", RANDOM),
    ("secrets.", RANDOM),
    ("numpy.random.", RANDOM),
    ("requests.", IO),
    ("httpx.", IO),
    ("aiohttp.", IO),
    ("aiofiles.", IO),
    ("urllib.request.", IO),
    ("urllib3.", IO),
    ("http.client.", IO),
    ("socket.", IO),
    ("subprocess.", IO),
)

ENVIRONMENT_REFERENCES = frozenset({"os.environ", "os.environb"})
"""Names whose mere reference reads the environment (``os.environ["X"]``, ``.get``)."""

CLIENT_FACTORIES = frozenset({"boto3.client", "boto3.resource"})
"""Calls that make an AWS SDK client: calling any method of the result is I/O."""

SESSION_FACTORIES = frozenset({"boto3.Session", "boto3.session.Session", "aioboto3.Session"})
"""Calls that make an AWS SDK session: its ``client(...)`` and ``resource(...)`` make clients."""

LOOP_FACTORIES = frozenset({"asyncio.get_running_loop", "asyncio.get_event_loop"})
"""Calls that return the event loop: its ``time()`` reads the (monotonic) clock."""

PATH_IO_METHODS = frozenset({"read_text", "write_text", "read_bytes", "write_bytes"})
"""``pathlib.Path`` methods that touch the file system, whatever the receiver is called."""

STEP_OPERATIONS = frozenset(
    {"step", "step_with_compensation", "wait_for_condition", "wait_for_callback"}
)
"""Operations whose first argument runs as a step body (it gets a StepContext)."""

CHILD_OPERATIONS = frozenset(
    {"run_in_child_context", "parallel", "map", "race", "any", "all_settled"}
)
"""Operations whose function arguments run as durable code with a child context."""

DURABLE_OPERATIONS = (
    STEP_OPERATIONS
    | CHILD_OPERATIONS
    | {
        "wait",
        "create_callback",
        "invoke",
        "run_compensations",
        "patched",
        "deprecate_patch",
        "race",
        "any",
        "all_settled",
    }
)
"""Every operation of a DurableContext: calling one is what makes a function durable."""

MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "pop",
        "popitem",
        "remove",
        "clear",
        "update",
        "setdefault",
        "add",
        "discard",
        "sort",
        "reverse",
        "appendleft",
        "extendleft",
        "popleft",
    }
)
"""Methods of list, dict, set and deque that change the object they are called on."""


def call_rule(qualified_name: str) -> Rule | None:
    """The rule a call to ``qualified_name`` breaks outside a step, if any."""
    rule = _EXACT_CALLS.get(qualified_name)
    if rule is not None:
        return rule
    for prefix, prefixed_rule in _CALL_PREFIXES:
        if qualified_name.startswith(prefix):
            return prefixed_rule
    return None
