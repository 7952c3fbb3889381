"""Find the durable code of a module and check it against the determinism rules.

The check is static and per module. It first finds *durable functions* (code that runs
on every invocation and is replayed) and *step bodies* (code that runs once, inside a
step, and is skipped on replay):

* durable: a parameter annotated ``DurableContext`` or ``AsyncDurableContext``; a
  parameter named ``ctx`` or ``context`` on which an operation is called; a function
  given to ``durable_closure.run``, ``DurableBuilder(...)``, a builder's ``.handler(...)``,
  decorated with ``@durable_execution``, ``@DurableBuilder()...build()`` or
  ``@durable_with_child_context``, or the ``handle`` of a ``DurableHandler`` or
  ``AsyncDurableHandler`` subclass; a function given to ``run_in_child_context``,
  ``parallel``, ``map``, ``race``, ``any`` or ``all_settled`` (also wrapped in a
  ``ParallelBranch``). A ``def`` and an ``async def`` are found alike;
* step bodies: the first argument of ``step``, ``step_with_compensation``,
  ``wait_for_condition`` and ``wait_for_callback``, and ``@durable_step`` functions.

Functions are lambdas, or defs resolved by name within the module, in the innermost
scope that defines the name, as Python does. Code that a durable function calls in
another function is not followed: the linter sees what it can see.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from durable_testing.lint.rules import (
    BRANCH_ON_UNCHECKPOINTED,
    CHILD_OPERATIONS,
    CLIENT_FACTORIES,
    DURABLE_OPERATIONS,
    ENVIRONMENT,
    ENVIRONMENT_REFERENCES,
    IO,
    LOOP_FACTORIES,
    MUTATING_METHODS,
    MUTATION_IN_STEP,
    NOT_AWAITED,
    OPERATION_IN_STEP,
    PATH_IO_METHODS,
    SESSION_FACTORIES,
    STEP_OPERATIONS,
    WALL_CLOCK,
    Rule,
    call_rule,
)

__all__ = ["Finding", "check_source"]

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
_FUNCTION_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
_CONTEXT_NAMES = frozenset({"ctx", "context"})
_CONTEXT_TYPES = frozenset({"DurableContext", "AsyncDurableContext"})
_HANDLER_BASES = frozenset({"DurableHandler", "AsyncDurableHandler"})
_BUILTINS = frozenset({"open"})
_BODY_KEYWORDS = frozenset({"func", "check", "submitter", "compensate", "branches"})
_IGNORE = re.compile(r"#\s*durable:\s*ignore(?:\[(?P<codes>[^\]]*)\])?")


@dataclass(frozen=True, order=True)
class Finding:
    """One violation: where (1-based line and column), which rule, and what was seen."""

    path: str
    line: int
    column: int
    code: str
    detail: str
    rule: Rule = field(compare=False)

    @property
    def message(self) -> str:
        return f"{self.detail} {self.rule.why}"


def _tail(node: ast.expr) -> str | None:
    """The last identifier of ``a.b.c`` or ``a.b.c(...)``: how decorators are recognised."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit(".", 1)[-1]
    return None


def _root_name(node: ast.expr) -> ast.Name | None:
    """The variable at the root of ``a.b[c].d``, whose object that expression reaches into."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def _from_builder(node: ast.expr) -> bool:
    """Whether ``node`` is a method of a ``DurableBuilder(...)...`` chain, such as
    ``DurableBuilder().with_tracing().build`` or ``DurableBuilder().handler``."""
    while isinstance(node, ast.Attribute | ast.Call):
        node = node.value if isinstance(node, ast.Attribute) else node.func
        if isinstance(node, ast.Call) and _tail(node.func) == "DurableBuilder":
            return True
    return False


def _is_build_call(decorator: ast.expr) -> bool:
    """``@DurableBuilder()...build()``: a builder without a handler makes a decorator."""
    return (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Attribute)
        and decorator.func.attr == "build"
        and _from_builder(decorator.func)
    )


def _positional(function: FunctionNode) -> list[ast.arg]:
    return [*function.args.posonlyargs, *function.args.args]


def _bound_names(target: ast.expr) -> Iterator[str]:
    """Names a (possibly unpacking) assignment target binds."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _bound_names(element)
    elif isinstance(target, ast.Starred):
        yield from _bound_names(target.value)


class _Module:
    """What the rules need to know about one module: imports, defs, durable code."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.aliases: dict[str, str] = {}
        self.defs: dict[str, list[FunctionNode]] = {}
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.aliases[local] = alias.name if alias.asname else local
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.defs.setdefault(node.name, []).append(node)
        self.loops = self._bound_to(lambda node: self._calls(node, LOOP_FACTORIES))
        self.sessions = self._bound_to(lambda node: self._calls(node, SESSION_FACTORIES))
        self.clients = self._bound_to(self.is_client_factory)
        self.durable: dict[FunctionNode, frozenset[str]] = {}
        self.step_bodies: set[FunctionNode] = set()
        self._discover()

    # -- names -----------------------------------------------------------------------

    def qualified_name(self, node: ast.expr) -> str | None:
        """``dt.datetime.now`` -> ``datetime.datetime.now`` when ``dt`` is an import."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        root = self.aliases.get(node.id)
        if root is None:
            return node.id if node.id in _BUILTINS and not parts else None
        return ".".join([root, *reversed(parts)])

    def _bound_to(self, made_by: Callable[[ast.expr], bool]) -> frozenset[str]:
        """Variables anywhere in the module bound to a value ``made_by`` recognises
        (``s3 = boto3.client(...)``, ``async with session.client(...) as s3``)."""
        names: set[str] = set()
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign) and made_by(node.value):
                for target in node.targets:
                    names.update(_bound_names(target))
            elif isinstance(node, ast.With | ast.AsyncWith):
                for item in node.items:
                    if item.optional_vars is not None and made_by(item.context_expr):
                        names.update(_bound_names(item.optional_vars))
        return frozenset(names)

    def _calls(self, node: ast.expr, functions: frozenset[str]) -> bool:
        return isinstance(node, ast.Call) and self.qualified_name(node.func) in functions

    def is_loop(self, node: ast.expr) -> bool:
        """``asyncio.get_running_loop()`` or a variable bound to it."""
        is_name = isinstance(node, ast.Name) and node.id in self.loops
        return is_name or self._calls(node, LOOP_FACTORIES)

    def is_client_factory(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Call):
            return False
        func = node.func
        from_session = (
            isinstance(func, ast.Attribute)
            and func.attr in ("client", "resource")
            and self._is_session(func.value)
        )
        return from_session or self.qualified_name(func) in CLIENT_FACTORIES

    def _is_session(self, node: ast.expr) -> bool:
        """``boto3.Session()`` (or aioboto3's) or a variable bound to one."""
        is_name = isinstance(node, ast.Name) and node.id in self.sessions
        return is_name or self._calls(node, SESSION_FACTORIES)

    # -- discovery -------------------------------------------------------------------

    def enclosing_functions(self, node: ast.AST) -> Iterator[FunctionNode]:
        parent = self.parents.get(node)
        while parent is not None:
            if isinstance(parent, _FUNCTION_TYPES):
                yield parent
            parent = self.parents.get(parent)

    def context_names(self, function: FunctionNode) -> frozenset[str]:
        """Names that hold a DurableContext in ``function``: its own and its closure's."""
        names = set(self.durable.get(function, ()))
        for outer in self.enclosing_functions(function):
            names.update(self.durable.get(outer, ()))
        return frozenset(names)

    def resolve(self, node: ast.expr) -> list[FunctionNode]:
        """The functions an argument names: a lambda, a def, ``partial(def, ...)``,
        ``ParallelBranch(def, ...)``."""
        if isinstance(node, ast.Lambda):
            return [node]
        if isinstance(node, ast.Name):
            return self._visible_defs(node)
        if isinstance(node, ast.Call):
            if self.qualified_name(node.func) == "functools.partial" and node.args:
                return self.resolve(node.args[0])
            if _tail(node.func) == "ParallelBranch":
                funcs = [*node.args[:1], *(kw.value for kw in node.keywords if kw.arg == "func")]
                return [function for func in funcs for function in self.resolve(func)]
            return [
                function
                for function in self.resolve(node.func)
                if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
                and any(_tail(d) == "durable_step" for d in function.decorator_list)
            ]
        return []

    def _visible_defs(self, name: ast.Name) -> list[FunctionNode]:
        """The defs ``name`` refers to: those of the innermost enclosing function that
        defines it, else the module's, so that two handlers' local ``body`` stay apart;
        when no visible scope defines it (a function a factory returned, say), every
        def of that name in the module."""
        defs = self.defs.get(name.id, [])
        for scope in [*self.enclosing_functions(name), None]:
            found = [d for d in defs if next(self.enclosing_functions(d), None) is scope]
            if found:
                return found
        return list(defs)

    def _seed(self) -> list[tuple[FunctionNode, str]]:
        """Durable functions recognisable without following calls, with their context."""
        seeds: list[tuple[FunctionNode, str]] = []
        for node in ast.walk(self.tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                seeds.extend((node, name) for name in self._context_params(node))
                decorators = {_tail(d) for d in node.decorator_list}
                positional = _positional(node)
                if "durable_step" in decorators:
                    self.step_bodies.add(node)
                if positional and (
                    "durable_execution" in decorators
                    or any(_is_build_call(d) for d in node.decorator_list)
                ):
                    seeds.append((node, positional[-1].arg))
                if positional and "durable_with_child_context" in decorators:
                    seeds.append((node, positional[0].arg))
            elif isinstance(node, ast.ClassDef) and any(
                _tail(base) in _HANDLER_BASES for base in node.bases
            ):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
                        item.name == "handle"
                    ):
                        positional = _positional(item)
                        if positional:
                            seeds.append((item, positional[-1].arg))
            elif isinstance(node, ast.Call) and node.args and self._is_wrapper(node.func):
                for function in self.resolve(node.args[0]):
                    positional = _positional(function)
                    if positional:
                        seeds.append((function, positional[-1].arg))
        return seeds

    def _is_wrapper(self, func: ast.expr) -> bool:
        """Whether calling ``func`` with a handler makes it a Lambda handler (or a builder)."""
        if isinstance(func, ast.Attribute) and func.attr == "handler" and _from_builder(func):
            return True
        return self.qualified_name(func) == "durable_closure.run" or _tail(func) in (
            "DurableBuilder",
            "durable_execution",
        )

    def _context_params(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
        names: list[str] = []
        for arg in [*_positional(function), *function.args.kwonlyargs]:
            annotated = arg.annotation is not None and _tail(arg.annotation) in _CONTEXT_TYPES
            if annotated or (
                arg.arg in _CONTEXT_NAMES
                and any(
                    isinstance(call, ast.Call) and self.operation_name(call, {arg.arg})
                    for call in ast.walk(function)
                )
            ):
                names.append(arg.arg)
        return names

    def operation_name(self, call: ast.Call, contexts: frozenset[str] | set[str]) -> str | None:
        """``"step"`` for ``ctx.step(...)`` when ``ctx`` is one of ``contexts``."""
        func = call.func
        if (
            isinstance(func, ast.Attribute)
            and func.attr in DURABLE_OPERATIONS
            and isinstance(func.value, ast.Name)
            and func.value.id in contexts
        ):
            return func.attr
        return None

    def _discover(self) -> None:
        pending = self._seed()
        while pending:
            function, context = pending.pop()
            known = self.durable.get(function, frozenset())
            if context in known:
                continue
            self.durable[function] = known | {context}
            contexts = self.context_names(function)
            for call in ast.walk(function):
                if not isinstance(call, ast.Call):
                    continue
                operation = self.operation_name(call, contexts)
                if operation in STEP_OPERATIONS:
                    for body in self._body_arguments(call, operation):
                        self.step_bodies.update(self.resolve(body))
                elif operation in CHILD_OPERATIONS:
                    for body in self._body_arguments(call, operation):
                        for child in self.resolve(body):
                            positional = _positional(child)
                            if positional:
                                pending.append((child, positional[0].arg))

    @staticmethod
    def _body_arguments(call: ast.Call, operation: str) -> list[ast.expr]:
        """The arguments of an operation that are functions it runs (branches one by one)."""
        keywords = [kw.value for kw in call.keywords if kw.arg in _BODY_KEYWORDS]
        if operation == "parallel":
            listed = [*call.args[:1], *keywords]
            return [
                branch
                for argument in listed
                for branch in (argument.elts if isinstance(argument, ast.List | ast.Tuple) else ())
            ]
        if operation in ("race", "any", "all_settled"):
            return list(call.args)
        if operation in ("map", "step_with_compensation"):
            first = call.args[:2] if operation == "step_with_compensation" else call.args[1:2]
            return [*first, *keywords]
        return [*call.args[:1], *keywords]


class _Visitor(ast.NodeVisitor):
    """Walks one function, reporting findings; nested durable code is walked on its own."""

    def __init__(self, module: _Module, path: str, findings: list[Finding]) -> None:
        self.module = module
        self.path = path
        self.findings = findings

    def report(self, node: ast.AST, rule: Rule, detail: str) -> None:
        line, column = getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1
        self.findings.append(Finding(self.path, line, column, rule.code, detail, rule))

    def walk_body(self, function: FunctionNode) -> None:
        body = [function.body] if isinstance(function, ast.Lambda) else function.body
        for node in body:
            self.visit(node)

    def _nested(self, node: FunctionNode) -> None:
        if node in self.module.durable or node in self.module.step_bodies:
            return
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        self.walk_body(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._nested(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._nested(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._nested(node)


class _DurableVisitor(_Visitor):
    """Durable code: no clock, randomness, environment or I/O, no branching on them.

    ``tainted`` maps a variable to where its unchecked value came from; assignment
    from a step's result (or any clean value) clears it. The walk follows source
    order, not control flow: precise enough for code between operations.
    """

    def __init__(self, module: _Module, path: str, findings: list[Finding]) -> None:
        super().__init__(module, path, findings)
        self.tainted: dict[str, str] = {}

    def _source(self, node: ast.Call) -> tuple[Rule, str] | None:
        """The rule a call breaks here, and how to show the call, if it breaks one."""
        func = node.func
        name = self.module.qualified_name(func)
        rule = call_rule(name) if name is not None else None
        if rule is not None and name is not None:
            return rule, f"`{name}()`"
        if isinstance(func, ast.Attribute):
            receiver = func.value
            if (
                isinstance(receiver, ast.Name) and receiver.id in self.module.clients
            ) or self.module.is_client_factory(receiver):
                return IO, f"AWS client call `{ast.unparse(receiver)}.{func.attr}()`"
            if func.attr in PATH_IO_METHODS:
                return IO, f"`{ast.unparse(func)}()`"
            if func.attr == "time" and self.module.is_loop(receiver):
                return WALL_CLOCK, f"`{ast.unparse(func)}()`"
        return None

    def _is_environment(self, node: ast.expr) -> bool:
        return self.module.qualified_name(node) in ENVIRONMENT_REFERENCES

    def origin(self, node: ast.expr) -> str | None:
        """Why the value of ``node`` is not checkpointed, or None when it is clean."""
        pending: list[ast.AST] = [node]
        while pending:
            current = pending.pop()
            if isinstance(current, _FUNCTION_TYPES):
                continue
            if isinstance(current, ast.Call) and (source := self._source(current)):
                return f"{source[1]} on line {current.lineno}"
            if isinstance(current, ast.Attribute | ast.Name) and self._is_environment(current):
                return f"the environment on line {current.lineno}"
            if isinstance(current, ast.Name) and current.id in self.tainted:
                return self.tainted[current.id]
            pending.extend(ast.iter_child_nodes(current))
        return None

    def _bind(self, target: ast.expr, origin: str | None) -> None:
        for name in _bound_names(target):
            if origin is None:
                self.tainted.pop(name, None)
            else:
                self.tainted[name] = origin

    def _condition(self, node: ast.expr, keyword: str) -> None:
        names = sorted(
            {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in self.tainted}
        )
        if names:
            origin = self.tainted[names[0]]
            detail = f"`{keyword}` on `{names[0]}` (from {origin})"
            self.report(node, BRANCH_ON_UNCHECKPOINTED, detail)

    # -- sources ---------------------------------------------------------------------

    def visit_Call(self, node: ast.Call) -> None:
        source = self._source(node)
        if source is not None:
            self.report(node, *source)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if self._is_environment(node):
            self.report(node, ENVIRONMENT, f"`{ast.unparse(node)}`")
        else:
            self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if self._is_environment(node):
            self.report(node, ENVIRONMENT, f"`{node.id}`")

    # -- data flow -------------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        origin = self.origin(node.value)
        for target in node.targets:
            self.visit(target)
            self._bind(target, origin)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._bind(node.target, self.origin(node.value))

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        origin = self.origin(node.value)
        if origin is not None:
            self._bind(node.target, origin)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._bind(node.target, self.origin(node.value))

    def _loop(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._bind(node.target, self.origin(node.iter))
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)

    def visit_For(self, node: ast.For) -> None:
        self._loop(node)

    def visit_AsyncFor(self, node: ast.AsyncFor) -> None:
        self._loop(node)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._bind(item.optional_vars, self.origin(item.context_expr))
        for statement in node.body:
            self.visit(statement)

    def visit_With(self, node: ast.With) -> None:
        self._with(node)

    def visit_AsyncWith(self, node: ast.AsyncWith) -> None:
        self._with(node)

    # -- branches --------------------------------------------------------------------

    def visit_If(self, node: ast.If) -> None:
        self._condition(node.test, "if")
        self.generic_visit(node)

    def visit_While(self, node: ast.While) -> None:
        self._condition(node.test, "while")
        self.generic_visit(node)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._condition(node.test, "if")
        self.generic_visit(node)

    def visit_Match(self, node: ast.Match) -> None:
        self._condition(node.subject, "match")
        self.generic_visit(node)


class _StepVisitor(_Visitor):
    """A step body: anything goes except reaching out to the handler's state or context."""

    def __init__(
        self, module: _Module, path: str, findings: list[Finding], body: FunctionNode
    ) -> None:
        super().__init__(module, path, findings)
        self.contexts = module.context_names(body)
        self.local: set[str] = set()
        declared: set[str] = set()
        for node in ast.walk(body):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                self.local.add(node.id)
            elif isinstance(node, ast.arg):
                self.local.add(node.arg)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.local.add(node.name)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                declared.update(node.names)
        self.local -= declared

    def _captured(self, node: ast.expr) -> str | None:
        root = _root_name(node)
        if root is None or root.id in self.local:
            return None
        return root.id

    def _mutation(self, target: ast.expr, node: ast.AST) -> None:
        if isinstance(target, ast.Attribute | ast.Subscript) and (name := self._captured(target)):
            self.report(
                node, MUTATION_IN_STEP, f"assigning `{ast.unparse(target)}` (of captured `{name}`)"
            )
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._mutation(element, node)

    def visit_Call(self, node: ast.Call) -> None:
        operation = self.module.operation_name(node, self.contexts)
        func = node.func
        if operation is not None and isinstance(func, ast.Attribute):
            detail = f"`{ast.unparse(func.value)}.{operation}()`"
            self.report(node, OPERATION_IN_STEP, detail)
        elif (
            isinstance(func, ast.Attribute)
            and func.attr in MUTATING_METHODS
            and self._captured(func.value)
        ):
            self.report(node, MUTATION_IN_STEP, f"`{ast.unparse(func)}()`")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._mutation(target, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._mutation(node.target, node)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._mutation(target, node)
        self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> None:
        names = ", ".join(node.names)
        self.report(node, MUTATION_IN_STEP, f"`global {names}`")

    def visit_Nonlocal(self, node: ast.Nonlocal) -> None:
        names = ", ".join(node.names)
        self.report(node, MUTATION_IN_STEP, f"`nonlocal {names}`")


def _ignored_lines(source: str) -> dict[int, frozenset[str] | None]:
    """Line -> the codes silenced on it by ``# durable: ignore[...]`` (None: every code)."""
    ignored: dict[int, frozenset[str] | None] = {}
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        match = _IGNORE.search(token.string)
        if match is None:
            continue
        codes = match.group("codes")
        line = token.start[0]
        if codes is None:
            ignored[line] = None
        elif ignored.get(line, frozenset()) is not None:
            named = frozenset(code.strip() for code in codes.split(",") if code.strip())
            ignored[line] = (ignored.get(line) or frozenset()) | named
    return ignored


def _not_awaited(module: _Module, function: ast.AsyncFunctionDef, path: str) -> list[Finding]:
    """Operations of the async context called where their coroutine is certainly lost:
    as a statement of its own, or as a condition (a coroutine is always true)."""
    contexts = module.context_names(function)
    lost: list[tuple[ast.Call, str]] = []
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, _FUNCTION_TYPES):
            continue  # nested functions are walked as durable code of their own
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            lost.append((node.value, "its result is dropped"))
        elif isinstance(node, ast.If | ast.While | ast.IfExp) and isinstance(node.test, ast.Call):
            lost.append((node.test, "it is used as a condition"))
        pending.extend(ast.iter_child_nodes(node))
    findings = []
    for call, how in lost:
        operation = module.operation_name(call, contexts)
        if operation is not None:
            line, column = call.lineno, call.col_offset + 1
            detail = f"`{ast.unparse(call.func)}()` is not awaited ({how})"
            findings.append(Finding(path, line, column, NOT_AWAITED.code, detail, NOT_AWAITED))
    return findings


def check_source(source: str, path: str = "<string>") -> list[Finding]:
    """Every finding in one module's source, in line order, minus silenced ones.

    Raises ``SyntaxError`` when the source does not parse.
    """
    module = _Module(ast.parse(source, filename=path))
    findings: list[Finding] = []
    for function in module.durable:
        if function not in module.step_bodies:
            _DurableVisitor(module, path, findings).walk_body(function)
        if isinstance(function, ast.AsyncFunctionDef):
            findings += _not_awaited(module, function, path)
    for body in module.step_bodies:
        _StepVisitor(module, path, findings, body).walk_body(body)
    ignored = _ignored_lines(source)
    return sorted({finding for finding in findings if not _silenced(finding, ignored)})


def _silenced(finding: Finding, ignored: dict[int, frozenset[str] | None]) -> bool:
    if finding.line not in ignored:
        return False
    codes = ignored[finding.line]
    return codes is None or finding.code in codes
