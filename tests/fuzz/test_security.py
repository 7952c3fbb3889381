"""No code execution from checkpoint data, unguessable callback ids, no secrets in logs."""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext, RetryPolicy, StepConfig
from durable_core.types import CallbackOptions, OperationAction, OperationType, OperationUpdate
from durable_testing import ExecutionStatus, LocalService
from durable_testing.faults import Fault, FaultSchedule, FaultyBackend

PACKAGES = Path(__file__).resolve().parents[2] / "packages"
MEMORY_BACKEND = PACKAGES / "durable-core/src/durable_core/backends/memory.py"

# Modules that turn bytes into code or arbitrary objects, and builtins that run code.
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}


def _sources() -> list[Path]:
    sources = sorted(PACKAGES.glob("*/src/**/*.py"))
    assert len(sources) > 20, "the scan must see the packages' sources"
    return sources


def _unsafe_uses(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in UNSAFE_MODULES:
                found.append(node.module)
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in UNSAFE_BUILTINS:
                found.append(f"{func.id}()")
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and (
                    func.value.id in UNSAFE_MODULES
                    or (func.value.id, func.attr) == ("yaml", "load")
                )
            ):
                found.append(f"{func.value.id}.{func.attr}()")
    return found


def test_the_scan_recognises_unsafe_code() -> None:
    sample = "import pickle\nfrom marshal import loads\neval('1')\npickle.loads(b'')\nyaml.load(s)"
    assert _unsafe_uses(ast.parse(sample)) == [
        "pickle",
        "marshal",
        "eval()",
        "pickle.loads()",
        "yaml.load()",
    ]


# The one allowed use: types.py compiles each wire shape's parser at import from the
# names of its own fields, as ``dataclasses`` compiles ``__init__``; no input reaches it
# (test_wire_parsers_are_compiled_from_field_names_only).
COMPILED_AT_IMPORT = {"durable-core/src/durable_core/types.py": ["exec()", "compile()"]}


def test_no_package_deserialises_with_pickle_eval_exec_or_marshal() -> None:
    offenders = {
        str(path.relative_to(PACKAGES)): uses
        for path in _sources()
        if (uses := _unsafe_uses(ast.parse(path.read_text(), filename=str(path))))
    }
    assert offenders == COMPILED_AT_IMPORT


def test_wire_parsers_are_compiled_from_field_names_only() -> None:
    """Every parser is compiled when its class is defined (the module's import), so no
    value that arrives later (an event, a response) can be part of compiled source."""
    from durable_core import types as wire

    shapes = [
        value
        for value in vars(wire).values()
        if isinstance(value, type)
        and issubclass(value, wire.WireModel)
        and value is not wire.WireModel
    ]
    assert len(shapes) >= 15
    for shape in shapes:
        code = vars(shape)["from_wire"].__func__.__code__
        assert code.co_filename == f"<from_wire of {shape.__name__}>"
        # The only string constants in the compiled code are the shape's own wire names.
        strings = {c for c in code.co_consts if isinstance(c, str)}
        assert strings <= {f.wire for f in shape._fields} | {
            "required",
            "",
            "expected an object, got ",
        }


def _draws_from_secrets(node: ast.AST, helpers: set[str]) -> bool:
    """The expression calls ``secrets.token_*`` or a module function that does."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Attribute) and ast.unparse(func).startswith("secrets.token_"):
                return True
            if isinstance(func, ast.Name) and func.id in helpers:
                return True
    return False


def test_memory_backend_draws_callback_ids_from_secrets() -> None:
    tree = ast.parse(MEMORY_BACKEND.read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert "random" not in imported
    helpers = {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and _draws_from_secrets(node, set())
    }
    values = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "callback_id" for t in node.targets)
    ]
    assert values, "memory.py assigns callback_id"
    assert all(_draws_from_secrets(value, helpers) for value in values), [
        ast.unparse(v) for v in values
    ]


def test_callback_ids_are_unique_and_long() -> None:
    from durable_core import MemoryBackend

    backend = MemoryBackend()
    event = backend.start_execution(None)
    arn = event["DurableExecutionArn"]
    starts = [
        OperationUpdate(
            id=f"cb{i}",
            type=OperationType.CALLBACK,
            sub_type="Callback",
            action=OperationAction.START,
            callback_options=CallbackOptions(timeout_seconds=60),
        )
        for i in range(500)
    ]
    response = backend.checkpoint(arn, event["CheckpointToken"], starts)
    ids = [op.callback_details.callback_id for op in response.operations if op.callback_details]
    assert len(ids) == 500 and len(set(ids)) == 500
    # 32 random bytes (256 bits) in base64 are 43 characters.
    assert all(cb is not None and len(cb) >= 43 for cb in ids)


SECRET_INPUT = "AKIAIOSFODNN7EXAMPLE"
SECRET_RESULT = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SECRET_ENV = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN"


def test_no_credentials_or_payloads_are_logged_by_default(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_RESULT)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SECRET_ENV)
    attempts: list[int] = []

    def flaky(_: Any) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("transient")
        return SECRET_RESULT

    def workflow(event: dict[str, Any], ctx: DurableContext) -> dict[str, str]:
        key = ctx.step(lambda _: event["access_key"], name="read")
        secret = ctx.step(flaky, name="fetch", config=StepConfig(retry=RetryPolicy()))
        ctx.wait(60, name="pause")
        inner = ctx.run_in_child_context(lambda c: c.step(lambda _: secret), name="kid")
        return {"key": key, "secret": inner}

    service = LocalService(max_invocation_attempts=100)
    faulty = FaultyBackend(
        service.backend,
        FaultSchedule(checkpoint={2: Fault.THROTTLE, 3: Fault.CRASH_AFTER_CALL}),
    )
    service.register("secretive", faulty.wrap(run(workflow)))
    with caplog.at_level(logging.DEBUG):
        result = service.run("secretive", {"access_key": SECRET_INPUT})
    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.result == {"key": SECRET_INPUT, "secret": SECRET_RESULT}
    assert faulty.injected, "the run went through a throttle and a crash"
    logged = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert logged, "the local service logs its invocations at INFO"
    for record in logged:
        text = f"{record.getMessage()} {record.__dict__}"
        for secret in (SECRET_INPUT, SECRET_RESULT, SECRET_ENV):
            assert secret not in text, (record.name, record.getMessage())
