import hashlib

from durable_core._ids import IdNamespace, operation_id


def _blake(text: str) -> str:
    return hashlib.blake2b(text.encode()).hexdigest()[:64]


def test_root_ids_hash_the_position() -> None:
    ns = IdNamespace(None)
    assert [ns.next_id() for _ in range(3)] == [_blake("1"), _blake("2"), _blake("3")]


def test_child_ids_are_prefixed_by_the_parent_id() -> None:
    first = operation_id(None, 1)
    assert operation_id(first, 1) == _blake(f"{first}-1")
    assert IdNamespace(first).next_id() == _blake(f"{first}-1")


def test_known_vector() -> None:
    # blake2b-512 of "1", truncated to 64 hex digits, from the Python docs' algorithm.
    assert operation_id(None, 1) == hashlib.new("blake2b", b"1").hexdigest()[:64]
    assert len(operation_id(None, 1)) == 64


def test_peek_does_not_consume() -> None:
    ns = IdNamespace(None)
    assert ns.peek_id() == ns.next_id() == _blake("1")
