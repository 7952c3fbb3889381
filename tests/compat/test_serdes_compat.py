"""Our ExtendedSerDes against AWS's ExtendedTypeSerDes: same bytes, each reads the other."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from decimal import Decimal
from typing import Any

import pytest
from aws_durable_execution_sdk_python.serdes import ExtendedTypeSerDes
from durable_core import ExtendedSerDes, SerDesError

AWS = ExtendedTypeSerDes()
OURS = ExtendedSerDes()

NESTED: dict[str, Any] = {
    "aware": dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=dt.UTC),
    "naive": dt.datetime(1999, 12, 31, 8, 0),
    "offset": dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))),
    "day": dt.date(2020, 1, 1),
    "money": Decimal("1234.5600"),
    "tiny": Decimal("-1E-30"),
    "id": uuid.UUID("0b8a6c1e-2f4d-4c3a-9e7b-5d6f7a8b9c0d"),
    "blob": b"\x00\x01binary\xfe\xff",
    "pair": (1, "two", None),
    "inner": {"list": [1, (2, 3), {"deep": [dt.date(2001, 2, 3)]}], "flag": False},
    "empty": {},
    "unicode": "naïve ✓ 日本",
}

VALUES = [
    pytest.param(None, id="none"),
    pytest.param("hello", id="str"),
    pytest.param("", id="empty-str"),
    pytest.param('quotes " and \\ and ✓', id="str-escapes"),
    pytest.param(0, id="zero"),
    pytest.param(-42, id="int"),
    pytest.param(2**70, id="bigint"),
    pytest.param(1.5, id="float"),
    pytest.param(0.1, id="float-repr"),
    pytest.param(-0.0, id="negative-zero"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param([1, "a", None, True, 2.5], id="list-of-primitives"),
    pytest.param([], id="empty-list"),
    pytest.param([[1, 2], ["x"]], id="nested-lists"),
    pytest.param({}, id="empty-dict"),
    pytest.param({"a": 1, "b": [1, 2]}, id="plain-dict"),
    pytest.param([{"a": 1}], id="list-with-dict"),
    pytest.param((1, 2), id="tuple"),
    pytest.param(NESTED, id="nested-extended"),
    pytest.param(Decimal("3.14"), id="bare-decimal"),
    pytest.param(dt.datetime(2024, 1, 1, tzinfo=dt.UTC), id="bare-datetime"),
    pytest.param(b"", id="empty-bytes"),
]


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types, all the way down (True is not 1, a tuple not a list)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return bool(a == b)


@pytest.mark.parametrize("value", VALUES)
def test_serialize_byte_for_byte(value: Any) -> None:
    assert OURS.serialize(value) == AWS.serialize(value)


@pytest.mark.parametrize("value", VALUES)
def test_we_read_what_aws_writes(value: Any) -> None:
    assert same(OURS.deserialize(AWS.serialize(value)), AWS.deserialize(AWS.serialize(value)))
    assert same(OURS.deserialize(AWS.serialize(value)), value)


@pytest.mark.parametrize("value", VALUES)
def test_aws_reads_what_we_write(value: Any) -> None:
    assert same(AWS.deserialize(OURS.serialize(value)), value)


def test_datetime_with_z_suffix_reads_alike() -> None:
    """An envelope written by another SDK (JS) may end a datetime in ``Z``."""
    payload = '{"t":"dt","v":"2024-03-04T05:06:07.000Z"}'
    assert same(OURS.deserialize(payload), AWS.deserialize(payload))


# AWS's SDK serialises these (json.dumps with allow_nan left on, dict keys coerced by json);
# a step that returns one succeeds under AWS's SDK. Each SDK must read the other's bytes.
AWS_ACCEPTS = [
    pytest.param(float("nan"), id="nan"),
    pytest.param(float("inf"), id="infinity"),
    pytest.param([1.0, float("-inf")], id="list-with-infinity"),
    pytest.param({"ratio": float("inf"), "at": dt.date(2024, 1, 1)}, id="envelope-with-infinity"),
    pytest.param({1: "one", 2: "two"}, id="int-keys"),
]


@pytest.mark.parametrize("value", AWS_ACCEPTS)
def test_we_read_aws_non_finite_and_coerced_keys(value: Any) -> None:
    expected = AWS.deserialize(AWS.serialize(value))
    assert same(OURS.deserialize(AWS.serialize(value)), expected)


NON_FINITE = AWS_ACCEPTS[:4]


@pytest.mark.parametrize("value", AWS_ACCEPTS[4:])
def test_we_serialize_coerced_keys_as_aws_does(value: Any) -> None:
    assert OURS.serialize(value) == AWS.serialize(value)


@pytest.mark.parametrize("value", NON_FINITE)
def test_non_finite_floats_are_written_as_standard_json_that_aws_reads(value: Any) -> None:
    """AWS's SDK writes bare ``NaN``/``Infinity`` tokens, which no standard JSON parser
    accepts; ours writes a float envelope holding the name, ``{"t":"f","v":"NaN"}``,
    which AWS's SDK reads back as the same float (its FLOAT tag decodes with ``float``)."""
    written = OURS.serialize(value)
    json.loads(written, parse_constant=_refuse)  # standard JSON: no bare constants
    assert same(AWS.deserialize(written), value)
    assert same(OURS.deserialize(written), value)


def _refuse(token: str) -> Any:
    raise AssertionError(f"non-standard JSON token {token}")


def test_keys_that_json_would_merge_are_an_error_not_a_lost_entry() -> None:
    """AWS's SDK writes ``{"1":..,"1":..}`` for keys 1 and "1" and reads one of them back."""
    value = {1: "int", "1": "str"}
    assert len(AWS.deserialize(AWS.serialize(value))) == 1  # AWS's SDK drops an entry
    with pytest.raises(SerDesError, match="same JSON key"):
        OURS.serialize(value)
