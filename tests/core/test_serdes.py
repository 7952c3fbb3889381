import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from durable_core import ExtendedSerDes, SerDesError

SERDES = ExtendedSerDes()


@pytest.mark.parametrize(
    "value",
    [
        None,
        "text",
        42,
        1.5,
        True,
        [1, "a", None],
        {"a": 1},
        (1, 2),
        dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 2, 3, 4, 5, 7, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.date(2026, 1, 2),
        Decimal("1.10"),
        Decimal("-0.000"),
        Decimal("1E+3"),
        uuid.UUID(int=7),
        b"\x00\x01",
        {"nested": [{"when": dt.date(2025, 5, 6)}, (Decimal("2"),)]},
    ],
)
def test_round_trip_keeps_type_and_value(value: Any) -> None:
    back = SERDES.deserialize(SERDES.serialize(value))
    # repr, not ==: Decimal("1.1") == Decimal("1.10") and a datetime that lost its
    # microseconds or offset could still compare equal to something; repr shows every
    # digit, the microseconds, the offset and the type of each nested value.
    assert repr(back) == repr(value)
    assert type(back) is type(value)


def test_primitives_are_plain_json() -> None:
    assert SERDES.serialize([1, "a", None]) == '[1,"a",null]'
    assert SERDES.serialize("x") == '"x"'


def test_dicts_use_the_envelope() -> None:
    assert json.loads(SERDES.serialize({"a": 1})) == {"t": "m", "v": {"a": {"t": "i", "v": 1}}}


@pytest.mark.parametrize(
    "bad", ['{"t": "zz", "v": 1}', '{"x": 1}', "not json", '{"t":"i","v":"a"}']
)
def test_unreadable_payloads_raise_serdes_error(bad: str) -> None:
    with pytest.raises(SerDesError):
        SERDES.deserialize(bad)


def test_unserialisable_value_raises_serdes_error() -> None:
    with pytest.raises(SerDesError, match="object"):
        SERDES.serialize(object())
