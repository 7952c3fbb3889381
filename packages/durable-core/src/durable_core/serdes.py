"""Serialisation of operation results, compatible with AWS's SDK.

The default ``ExtendedSerDes`` writes what AWS's Python SDK writes, so each SDK
replays the other's checkpoints: primitives and lists of primitives as plain JSON,
everything else in an envelope ``{"t": tag, "v": value}`` that keeps the Python type
(datetime, Decimal, UUID, bytes, tuple, dict...). The handler's own input and output
are plain JSON, as Lambda passes them.

A custom serdes is any object with ``serialize(value) -> str`` and
``deserialize(data) -> value``; failures surface as ``SerDesError``.
"""

from __future__ import annotations

import base64
import json
import math
import sys
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar, runtime_checkable

from durable_core.errors import SerDesError

__all__ = [
    "JSON_SERDES",
    "ExtendedSerDes",
    "JsonSerDes",
    "SerDes",
    "check_utf8",
    "deserialize",
    "load_json",
    "serialize",
    "to_json",
]

T = TypeVar("T")


@runtime_checkable
class SerDes(Protocol[T]):
    """Turns a value into the string checkpointed for it, and back."""

    def serialize(self, value: T) -> str: ...

    def deserialize(self, data: str) -> T: ...


class JsonSerDes:
    """Plain ``json`` both ways: what Lambda does with a handler's input and output."""

    def serialize(self, value: Any) -> str:
        return to_json(value)

    def deserialize(self, data: str) -> Any:
        return json.loads(data)


def to_json(value: Any) -> str:
    """``json.dumps(value)`` that writes standard JSON only, and loses nothing.

    NaN and Infinity (which ``json.dumps`` writes as bare non-standard tokens) and a dict
    whose keys become equal as JSON keys (``1`` and ``"1"``: one entry would be dropped
    when read) are a ``SerDesError``, as is a value nested beyond Python's recursion limit.
    """
    try:
        _check_json_keys(value)
        return json.dumps(value, allow_nan=False)
    except RecursionError:
        raise SerDesError(_TOO_DEEP) from None
    except ValueError as exc:
        raise SerDesError(f"{exc} (JSON has no NaN or Infinity)") from None
    except TypeError as exc:
        raise SerDesError(str(exc)) from None


_TOO_DEEP = f"the value is nested deeper than Python's recursion limit ({sys.getrecursionlimit()})"


def _check_json_keys(value: Any) -> None:
    """``_json_keys`` on every dict in ``value``: a loop, not recursion (any depth)."""
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key in node:
                if type(key) is not str:
                    _json_keys(node)
                    break
            pending.extend(node.values())
        elif isinstance(node, list | tuple):
            pending.extend(node)


def _json_keys(mapping: dict[Any, Any]) -> None:
    """Refuse keys that JSON would make equal (``json.dumps``'s coercion of keys)."""
    seen: dict[str, Any] = {}
    for key in mapping:
        name = _json_key(key)
        if name in seen:
            raise SerDesError(
                f"the dict keys {seen[name]!r} and {key!r} are the same JSON key {name!r}"
            )
        seen[name] = key


def _json_key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is True or key is False or key is None:
        return json.dumps(key)
    if isinstance(key, float):
        return json.dumps(key)  # NaN, Infinity: as json.dumps names such a key
    if isinstance(key, int):
        return int.__repr__(key)
    raise SerDesError(f"dict keys of type {type(key).__qualname__} cannot be serialised")


def _is_plain(value: Any, *, reading: bool = False) -> bool:
    """Plain JSON as written (finite floats only), or as read (AWS's SDK writes ``NaN``)."""
    if isinstance(value, float):
        return reading or math.isfinite(value)
    if value is None or isinstance(value, str | int | bool):
        return True
    if isinstance(value, list):
        return all(_is_plain(item, reading=reading) for item in value)
    return False


def _encode(value: Any) -> dict[str, Any]:
    # bool before int: bool is a subclass of int.
    if value is None:
        return {"t": "n", "v": None}
    if isinstance(value, str):
        return {"t": "s", "v": value}
    if isinstance(value, bool):
        return {"t": "b", "v": value}
    if isinstance(value, int):
        return {"t": "i", "v": value}
    if isinstance(value, float):
        # JSON has no NaN or Infinity: their names, which AWS's SDK reads back (float(v)).
        return {"t": "f", "v": value if math.isfinite(value) else json.dumps(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"t": "B", "v": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, uuid.UUID):
        return {"t": "u", "v": str(value)}
    if isinstance(value, Decimal):
        return {"t": "d", "v": str(value)}
    if isinstance(value, datetime):
        return {"t": "dt", "v": value.isoformat()}
    if isinstance(value, date):
        return {"t": "D", "v": value.isoformat()}
    # A BatchResult exists only once its module is loaded; serdes does not load it.
    batch = sys.modules.get("durable_core.batch")
    if batch is not None and isinstance(value, batch.BatchResult):
        return {"t": "br", "v": _encode(value.to_dict())["v"]}
    if isinstance(value, list):
        return {"t": "l", "v": [_encode(item) for item in value]}
    if isinstance(value, tuple):
        return {"t": "t", "v": [_encode(item) for item in value]}
    if isinstance(value, dict):
        # Keys become JSON object keys (1 -> "1") exactly as json.dumps and AWS's SDK do;
        # one loop looks for what is not a str (the common case has nothing to check).
        for key in value:
            if type(key) is not str:
                if any(isinstance(key, tuple) for key in value):
                    raise SerDesError("tuple dict keys cannot be serialised")
                _json_keys(value)
                break
        return {"t": "m", "v": {key: _encode(item) for key, item in value.items()}}
    raise SerDesError(f"values of type {type(value).__qualname__} cannot be serialised")


def _decode(node: Any) -> Any:
    if not (isinstance(node, dict) and "t" in node and "v" in node):
        raise SerDesError(f"malformed envelope: {str(node)[:80]!r}")
    tag, value = node["t"], node["v"]
    try:
        return _DECODERS[tag](value)
    except KeyError:
        raise SerDesError(f"unknown type tag {tag!r}") from None
    except (TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        # ArithmeticError: decimal.InvalidOperation for a "d" value that is no number.
        raise SerDesError(f"invalid value for type tag {tag!r}: {exc}") from exc


def is_envelope(node: Any) -> bool:
    """Whether a parsed JSON value is shaped as AWS's typed envelope ``{"t": tag, "v": value}``
    (plain JSON from an outside sender can be anything else)."""
    return isinstance(node, dict) and len(node) == 2 and "t" in node and "v" in node


def decode_envelope(node: Any) -> Any:
    """The Python value an envelope stands for; ``SerDesError`` when it is not a valid one."""
    return _decode(node)


def _datetime(value: str) -> datetime:
    return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)


def _mapping(value: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    return {key: _decode(item) for key, item in value.items()}


def _sequence(value: list[Any]) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("expected an array")
    return [_decode(item) for item in value]


_DECODERS: dict[str, Any] = {
    "n": lambda v: None,
    "s": str,
    "b": bool,
    "i": int,
    "f": float,
    "B": lambda v: base64.b64decode(v.encode(), validate=True),
    "u": uuid.UUID,
    "d": Decimal,
    "dt": _datetime,
    "D": date.fromisoformat,
    "l": _sequence,
    "t": lambda v: tuple(_sequence(v)),
    "m": _mapping,
    "br": lambda v: _batch_result(_mapping(v)),
}


def _batch_result(data: dict[str, Any]) -> Any:
    from durable_core.batch import BatchResult

    return BatchResult.from_dict(data)


def _is_json_int(data: str) -> bool:
    """A JSON integer literal (no sign but ``-``, no leading zero, ASCII digits only), which
    ``int`` reads exactly as ``json.loads`` does, at a fraction of the cost."""
    digits = data[1:] if data[:1] == "-" else data
    return digits.isascii() and digits.isdigit() and (digits[0] != "0" or len(digits) == 1)


class ExtendedSerDes:
    """AWS's SDK's default format: plain JSON when it suffices, typed envelope otherwise."""

    def serialize(self, value: Any) -> str:
        if type(value) is int:  # the commonest result; json.dumps writes int's repr
            return repr(value)
        try:
            if _is_plain(value):
                return json.dumps(value, separators=(",", ":"))
            return json.dumps(_encode(value), separators=(",", ":"), allow_nan=False)
        except RecursionError:
            raise SerDesError(_TOO_DEEP) from None

    def deserialize(self, data: str) -> Any:
        if _is_json_int(data):
            return int(data)
        node = load_json(data)
        try:
            return node if _is_plain(node, reading=True) else _decode(node)
        except RecursionError:
            raise SerDesError(f"payload is not readable: {_TOO_DEEP}") from None


def load_json(data: str) -> Any:
    """``json.loads``; text that is not JSON, or nested past the recursion limit, is a
    ``SerDesError`` (the one error a payload that cannot be read may raise)."""
    try:
        return json.loads(data)
    except RecursionError:
        raise SerDesError(f"payload is not readable: {_TOO_DEEP}") from None
    except ValueError as exc:
        raise SerDesError(f"payload is not JSON: {exc}") from exc


JSON_SERDES = JsonSerDes()
EXTENDED_SERDES = ExtendedSerDes()


def serialize(serdes: SerDes[Any] | None, value: Any, where: str) -> str:
    """Serialise with ``serdes`` (the extended default when None); errors name ``where``."""
    try:
        return (serdes or EXTENDED_SERDES).serialize(value)
    except SerDesError as exc:
        raise SerDesError(f"cannot serialise the result of {where}: {exc.message}") from exc
    except Exception as exc:
        raise SerDesError(f"cannot serialise the result of {where}: {exc}") from exc


def check_utf8(data: str, what: str) -> str:
    """``data``, refused with a ``SerDesError`` if it holds what no UTF-8 can encode (lone
    surrogates: undecodable bytes let through by a lenient decoder). Such text cannot be
    checkpointed, logged or returned again, so it is refused where it is first read."""
    try:
        data.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SerDesError(f"{what} is not valid UTF-8 (at character {exc.start})") from None
    return data


def deserialize(serdes: SerDes[Any] | None, data: str, where: str) -> Any:
    """Read a checkpointed payload back; a payload its serdes cannot read is a ``SerDesError``."""
    if serdes is None and _is_json_int(data):  # the commonest replayed result
        return int(data)
    try:
        return (serdes or EXTENDED_SERDES).deserialize(data)
    except SerDesError as exc:
        raise SerDesError(f"cannot read the checkpointed result of {where}: {exc.message}") from exc
    except Exception as exc:
        raise SerDesError(f"cannot read the checkpointed result of {where}: {exc}") from exc
