"""Requests and responses of the Lambda API, checked and encoded by boto3's service model.

The model is the spec: every request member is checked against its shape (required
members, types, enum values, string lengths and patterns, number and list bounds) as
the service does, and every response is encoded as botocore's rest-json parser expects
(timestamps as epoch seconds, blobs as base64, members the shape does not name dropped).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, unquote

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

__all__ = [
    "RequestShapeError",
    "decode_request",
    "encode_response",
    "lambda_model",
    "operation_model",
]


class RequestShapeError(ValueError):
    """A request member violates the model; the message names the member and the rule."""


@functools.cache
def lambda_model() -> ServiceModel:
    """Lambda's service model, loaded once from botocore's data (no credentials needed)."""
    return botocore.session.get_session().get_service_model("lambda")


def operation_model(name: str) -> OperationModel:
    return lambda_model().operation_model(name)


def decode_request(
    operation: OperationModel,
    path_params: Mapping[str, str],
    query: str,
    body: bytes,
) -> dict[str, Any]:
    """The request's members by model name, taken from the URI, the query string and the body.

    Raises ``RequestShapeError`` for a member that breaks its shape.
    """
    shape = operation.input_shape
    if shape is None:
        return {}
    queried = parse_qs(query, keep_blank_values=True)
    params: dict[str, Any] = {}
    body_members: dict[str, Shape] = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri":
            if wire_name in path_params:
                params[name] = _from_text(member, unquote(path_params[wire_name]), name)
        elif location == "querystring":
            if wire_name in queried:
                values = queried[wire_name]
                params[name] = (
                    [_from_text(member.member, v, name) for v in values]  # type: ignore[attr-defined]
                    if member.type_name == "list"
                    else _from_text(member, values[-1], name)
                )
        elif location is None:
            body_members[name] = member
    payload = shape.serialization.get("payload")
    if payload is not None:
        member = shape.members[payload]
        if member.type_name == "blob":
            if body:
                params[payload] = body.decode("utf-8", errors="replace")
        elif body.strip():
            params[payload] = _json_body(body)
    elif body.strip():
        document = _json_body(body)
        if not isinstance(document, dict):
            raise RequestShapeError("the request body must be a JSON object")
        for name, member in body_members.items():
            if name in document:
                params[name] = _decode_json(member, document[name], name)
    _check(shape, params, "")
    return params


def encode_response(shape: Shape | None, value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` as the JSON body botocore parses for ``shape``."""
    if shape is None:
        return {}
    encoded = _encode(shape, value)
    assert isinstance(encoded, dict)
    return encoded


# -- decoding ---------------------------------------------------------------------


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise RequestShapeError(f"the request body is not JSON: {exc}") from None


def _from_text(shape: Shape, text: str, path: str) -> Any:
    """A URI or query-string value, typed as its shape says (botocore's serialisation)."""
    kind = shape.type_name
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise RequestShapeError(f"{path}: {text!r} is not an integer") from None
    if kind == "boolean":
        if text not in ("true", "false"):
            raise RequestShapeError(f"{path}: {text!r} is not true or false")
        return text == "true"
    if kind == "timestamp":
        return _timestamp(text, path)
    return text


def _decode_json(shape: Shape, value: Any, path: str) -> Any:
    """A body value: timestamps (epoch seconds) and blobs (base64) become Python values."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        return {
            name: _decode_json(shape.members[name], item, f"{path}.{name}")  # type: ignore[attr-defined]
            if name in shape.members  # type: ignore[attr-defined]
            else item
            for name, item in value.items()
        }
    if kind == "list" and isinstance(value, list):
        member = shape.member  # type: ignore[attr-defined]
        return [_decode_json(member, item, f"{path}.{i}") for i, item in enumerate(value)]
    if kind == "timestamp" and value is not None:
        return _timestamp(value, path)
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            raise RequestShapeError(f"{path}: not base64") from None
    return value


def _timestamp(value: Any, path: str) -> dt.datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
    raise RequestShapeError(f"{path}: {value!r} is not a timestamp")


# -- checking ---------------------------------------------------------------------


def _check(shape: Shape, value: Any, path: str) -> None:
    kind = shape.type_name
    bounds = shape.metadata
    where = path or "request"
    if kind == "structure":
        if not isinstance(value, dict):
            raise RequestShapeError(f"{where}: expected an object")
        for name in shape.required_members:
            if value.get(name) is None:
                raise RequestShapeError(f"{_join(path, name)}: required member is missing")
        for name, member in shape.members.items():  # type: ignore[attr-defined]
            if value.get(name) is not None:
                _check(member, value[name], _join(path, name))
    elif kind == "list":
        if not isinstance(value, list):
            raise RequestShapeError(f"{where}: expected a list")
        _check_bounds(len(value), bounds, where, "length")
        for i, item in enumerate(value):
            _check(shape.member, item, f"{where}.{i}")  # type: ignore[attr-defined]
    elif kind == "string":
        if not isinstance(value, str):
            raise RequestShapeError(f"{where}: expected a string")
        if shape.enum and value not in shape.enum:  # type: ignore[attr-defined]
            allowed = ", ".join(shape.enum)  # type: ignore[attr-defined]
            raise RequestShapeError(f"{where}: {value!r} is not one of {allowed}")
        _check_bounds(len(value), bounds, where, "length")
        pattern = bounds.get("pattern")
        if pattern is not None and not _compiled(pattern).fullmatch(value):
            raise RequestShapeError(f"{where}: must match the pattern {pattern}")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            raise RequestShapeError(f"{where}: expected an integer")
        _check_bounds(value, bounds, where, "value")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise RequestShapeError(f"{where}: expected true or false")
    elif kind == "blob":
        if not isinstance(value, str | bytes):
            raise RequestShapeError(f"{where}: expected a binary value")
        _check_bounds(len(value), bounds, where, "length")


def _check_bounds(size: int, bounds: Mapping[str, Any], where: str, what: str) -> None:
    if "min" in bounds and size < bounds["min"]:
        raise RequestShapeError(f"{where}: {what} {size} is below the minimum {bounds['min']}")
    if "max" in bounds and size > bounds["max"]:
        raise RequestShapeError(f"{where}: {what} {size} is above the maximum {bounds['max']}")


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- encoding ---------------------------------------------------------------------


def _encode(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        members = shape.members  # type: ignore[attr-defined]
        return {
            name: _encode(members[name], item)
            for name, item in value.items()
            if name in members and item is not None
        }
    if kind == "list" and isinstance(value, list | tuple):
        return [_encode(shape.member, item) for item in value]  # type: ignore[attr-defined]
    if kind == "timestamp":
        moment = value if isinstance(value, dt.datetime) else _timestamp(value, "timestamp")
        return moment.timestamp()
    if kind == "blob":
        raw = value.encode() if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return value
