"""Typed results: a step or child context declared to return a pydantic model, a
dataclass or any type pydantic validates returns an instance of it, on the first run
and on replay.

The value is checkpointed as plain JSON data (``model_dump(mode="json")``) in AWS's
SDK's format, so AWS's SDK reads it as the equivalent dict; this SDK validates it back
into the declared type. The type comes from ``TypedSerDes(tp)`` given as a serdes, or
is inferred from the function's return annotation when no serdes is given.
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import pydantic
import pydantic_core

from durable_core.errors import SerDesError
from durable_core.serdes import EXTENDED_SERDES

__all__ = ["TypedSerDes", "inferred_serdes"]

T = TypeVar("T")

# Types the default serdes already returns as themselves: no validation layer needed.
_NATIVE: frozenset[Any] = frozenset({str, int, float, bool, bytes, type(None), Any, object})


class TypedSerDes(Generic[T]):
    """Serialise a ``tp`` as JSON data and validate it back into a ``tp``."""

    def __init__(self, tp: type[T] | Any) -> None:
        self.tp = tp
        self._adapter: pydantic.TypeAdapter[T] = pydantic.TypeAdapter(tp)

    def serialize(self, value: T) -> str:
        try:
            data = self._adapter.dump_python(value, mode="json")
        except (pydantic_core.PydanticSerializationError, ValueError, TypeError) as exc:
            raise SerDesError(f"cannot serialise a {self._name()}: {exc}") from exc
        return EXTENDED_SERDES.serialize(data)

    def deserialize(self, data: str) -> T:
        try:
            return self._adapter.validate_python(EXTENDED_SERDES.deserialize(data))
        except pydantic.ValidationError as exc:
            raise SerDesError(
                f"the recorded value is not a valid {self._name()}: {exc.errors()[0]['msg']}"
            ) from exc

    def _name(self) -> str:
        return getattr(self.tp, "__qualname__", repr(self.tp))


def _needs_validation(tp: Any) -> bool:
    """True when the default serdes would not give back a ``tp`` by itself."""
    if tp in _NATIVE or isinstance(tp, TypeVar):
        return False
    if isinstance(tp, type) and (
        issubclass(tp, pydantic.BaseModel) or dataclasses.is_dataclass(tp)
    ):
        return True
    args = typing.get_args(tp)
    return any(_needs_validation(arg) for arg in args if arg is not Ellipsis)


@functools.lru_cache(maxsize=1024)
def _serdes_for_code(func: Callable[..., Any]) -> TypedSerDes[Any] | None:
    try:
        tp = typing.get_type_hints(func).get("return")
    except Exception:  # an annotation that does not resolve: keep the default serdes
        return None
    if tp is None or not _needs_validation(tp):
        return None
    return TypedSerDes(tp)


def inferred_serdes(func: Callable[..., Any]) -> TypedSerDes[Any] | None:
    """The serdes the return annotation of ``func`` asks for, or None for the default.

    Cheap for the common case (a lambda or an unannotated function has no return
    annotation); resolved annotations are cached per function.
    """
    annotations = getattr(func, "__annotations__", None)
    if not annotations or "return" not in annotations:
        return None
    try:
        return _serdes_for_code(func)
    except TypeError:  # an unhashable callable
        return None
