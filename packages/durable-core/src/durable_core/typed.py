"""Typed results: a step or child context declared to return a pydantic model, a
dataclass or any type pydantic validates returns an instance of it, on the first run
and on replay.

The value is checkpointed as plain JSON data (``model_dump(mode="json")``) in AWS's
SDK's format, so AWS's SDK reads it as the equivalent dict; this SDK validates it back
into the declared type. The type comes from ``TypedSerDes(tp)`` given as a serdes, or
is inferred from the function's return annotation when no serdes is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from durable_core.errors import SerDesError
from durable_core.serdes import EXTENDED_SERDES, decode_envelope, is_envelope, load_json

if TYPE_CHECKING:
    import pydantic

__all__ = ["TypedSerDes", "inferred_serdes"]

T = TypeVar("T")

# Types the default serdes already returns as themselves: no validation layer needed.
_NATIVE: frozenset[Any] = frozenset({str, int, float, bool, bytes, type(None), Any, object})


class TypedSerDes(Generic[T]):
    """Serialise a ``tp`` as JSON data and validate it back into a ``tp``.

    pydantic is imported here, when the first typed serdes is made, not with the SDK: a
    handler without typed results does not pay its import on a cold start.
    """

    # ``TypedSerDes(Order)`` is a ``TypedSerDes[Order]``, so what it reads (a callback's
    # answer, an invoke's result) is an ``Order`` to mypy, and a step whose body returns
    # something else is rejected. A type that is no class (``Order | None``, ``list[Order]``
    # on some checkers) gives ``TypedSerDes[Any]``: annotate the variable to narrow it.
    @overload
    def __init__(self: TypedSerDes[T], tp: type[T]) -> None: ...

    @overload
    def __init__(self: TypedSerDes[Any], tp: Any) -> None: ...

    def __init__(self, tp: Any) -> None:
        import pydantic
        import pydantic_core

        self.tp = tp
        self._adapter: pydantic.TypeAdapter[T] = pydantic.TypeAdapter(tp)
        # Kept here so that a step's (de)serialisation runs no import statement.
        self._invalid = pydantic.ValidationError
        self._unserialisable = (pydantic_core.PydanticSerializationError, ValueError, TypeError)

    def serialize(self, value: T) -> str:
        try:
            data = self._adapter.dump_python(value, mode="json")
        except self._unserialisable as exc:
            raise SerDesError(f"cannot serialise a {self._name()}: {exc}") from exc
        return EXTENDED_SERDES.serialize(data)

    def deserialize(self, data: str) -> T:
        """Read what this serdes wrote (AWS's envelope) or what an outside sender wrote.

        A callback's answer and an invoked function's result are plain JSON, written by
        whatever system sent them (``{"id": 2, "total": "3.50"}``), not by an SDK; a
        step's result is AWS's envelope (``{"t": "m", "v": ...}``). Both are validated
        into a ``tp``; a plain object that happens to look like an envelope is tried as
        plain data too before it is rejected.
        """
        node = load_json(data)
        if not is_envelope(node):
            return self._validate(node)
        try:
            decoded = decode_envelope(node)
        except SerDesError:
            return self._validate(node)
        try:
            return self._validate(decoded)
        except SerDesError:
            if isinstance(node, dict):
                with contextlib.suppress(SerDesError):
                    return self._validate(node)
            raise

    def _validate(self, value: Any) -> T:
        try:
            return self._adapter.validate_python(value)
        except self._invalid as exc:
            raise SerDesError(
                f"the recorded value is not a valid {self._name()}: {exc.errors()[0]['msg']}"
            ) from exc

    def _name(self) -> str:
        return getattr(self.tp, "__qualname__", repr(self.tp))


def _needs_validation(tp: Any) -> bool:
    """True when the default serdes would not give back a ``tp`` by itself."""
    if tp in _NATIVE or isinstance(tp, TypeVar):
        return False
    if isinstance(tp, type) and (dataclasses.is_dataclass(tp) or _is_pydantic_model(tp)):
        return True
    args = typing.get_args(tp)
    return any(_needs_validation(arg) for arg in args if arg is not Ellipsis)


def _is_pydantic_model(tp: type) -> bool:
    # A class can only be a pydantic model if pydantic was imported (by whoever defined it).
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and issubclass(tp, pydantic.BaseModel)


def _resolved_serdes(func: Callable[..., Any]) -> TypedSerDes[Any] | None:
    try:
        tp = typing.get_type_hints(func).get("return")
    except Exception:  # an annotation that does not resolve: keep the default serdes
        return None
    if tp is None or not _needs_validation(tp):
        return None
    return TypedSerDes(tp)


# What ``get_type_hints`` of a plain function returns depends only on its annotations and
# its module's globals, not on the function object: a step body made by a factory is a
# new object on every call (a closure, a lambda in a loop) with the same code. So the
# answer is cached per code object (by id: hashing a code object hashes all of it; the
# entry keeps the code alive, so the id is not reused), together with the annotations
# and the globals it was resolved with, and used only when both are the same again.
_CACHE_SIZE = 1024
_Resolved = tuple[types.CodeType, dict[str, Any], dict[str, Any], "TypedSerDes[Any] | None"]
_by_code: dict[int, _Resolved] = {}


def _cached_for_function(func: types.FunctionType) -> TypedSerDes[Any] | None:
    code, annotations, module = func.__code__, func.__annotations__, func.__globals__
    hit = _by_code.get(id(code))
    if hit is not None and hit[0] is code and hit[2] is module and hit[1] == annotations:
        return hit[3]
    serdes = _resolved_serdes(func)
    if len(_by_code) >= _CACHE_SIZE:
        _by_code.clear()
    _by_code[id(code)] = (code, dict(annotations), module, serdes)
    return serdes


_serdes_for_callable = functools.lru_cache(maxsize=_CACHE_SIZE)(_resolved_serdes)


def inferred_serdes(func: Callable[..., Any]) -> TypedSerDes[Any] | None:
    """The serdes the return annotation of ``func`` asks for, or None for the default.

    Cheap for the common case (a lambda or an unannotated function has no return
    annotation); resolved annotations are cached per code (plain functions) or per
    callable (anything else).
    """
    if type(func) is types.FunctionType:  # a def or a lambda: checked without getattr
        if "return" not in func.__annotations__:
            return None
        if "__wrapped__" not in func.__dict__:
            return _cached_for_function(func)
    else:
        annotations = getattr(func, "__annotations__", None)
        if not annotations or "return" not in annotations:
            return None
    try:
        return _serdes_for_callable(func)
    except TypeError:  # an unhashable callable
        return _resolved_serdes(func)
