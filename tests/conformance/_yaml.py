"""A reader for the YAML subset the requirement files use (the workspace has no YAML library).

Supported: one document, ``#`` comments, block mappings and sequences (``- key: v``
items included), literal blocks (``|``), multi-line plain scalars, single and double
quoted scalars, flow sequences and mappings on one line, and the core schema's
null, bool, int and float. Anything else raises ``ValueError`` rather than guess.
``test_yaml_subset.py`` checks it on the shapes the requirements use.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["load_yaml"]

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")
_KEY = re.compile(r"^([A-Za-z0-9_.\-]+|'[^']*'|\"[^\"]*\"):(?:\s+(.*))?$")


class _Lines:
    def __init__(self, text: str) -> None:
        self.lines = [line.rstrip() for line in text.splitlines()]
        self.pos = 0

    def skip_blank(self) -> None:
        while self.pos < len(self.lines):
            stripped = self.lines[self.pos].strip()
            if stripped and not stripped.startswith("#") and stripped != "---":
                return
            self.pos += 1

    def peek(self) -> tuple[int, str] | None:
        self.skip_blank()
        if self.pos >= len(self.lines):
            return None
        line = self.lines[self.pos]
        return len(line) - len(line.lstrip(" ")), line.strip()


def load_yaml(text: str) -> Any:
    lines = _Lines(text)
    head = lines.peek()
    if head is None:
        return None
    value = _node(lines, head[0])
    if lines.peek() is not None:
        raise ValueError(f"unexpected content at line {lines.pos + 1}")
    return value


def _node(lines: _Lines, indent: int) -> Any:
    head = lines.peek()
    assert head is not None
    if head[1] == "-" or head[1].startswith("- "):
        return _sequence(lines, indent)
    return _mapping(lines, indent)


def _sequence(lines: _Lines, indent: int) -> list[Any]:
    items: list[Any] = []
    while (head := lines.peek()) is not None and head[0] == indent:
        text = head[1]
        if not (text == "-" or text.startswith("- ")):
            break
        rest = text[1:].strip()
        if not rest:
            lines.pos += 1
            nxt = lines.peek()
            items.append(_node(lines, nxt[0]) if nxt and nxt[0] > indent else None)
        elif _KEY.match(rest) and not rest.startswith(("'", '"', "[", "{")):
            # "- key: value": a mapping whose keys sit two columns further in.
            line = lines.lines[lines.pos]
            lines.lines[lines.pos] = line.replace("-", " ", 1)
            items.append(_mapping(lines, indent + 2))
        else:
            lines.pos += 1
            items.append(_inline_value(lines, rest, indent))
    return items


def _mapping(lines: _Lines, indent: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    while (head := lines.peek()) is not None and head[0] == indent:
        if head[1].startswith("- "):
            break
        match = _KEY.match(head[1])
        if match is None:
            raise ValueError(f"line {lines.pos + 1}: expected 'key: value', got {head[1]!r}")
        key = str(_scalar(match.group(1)))
        rest = (match.group(2) or "").strip()
        lines.pos += 1
        if rest in ("|", "|-", "|+"):
            result[key] = _literal(lines, indent, rest)
        elif rest and not rest.startswith("#"):
            result[key] = _inline_value(lines, rest, indent)
        else:
            nxt = lines.peek()
            nested = nxt is not None and (
                nxt[0] > indent or (nxt[0] == indent and nxt[1].startswith("- "))
            )
            result[key] = _node(lines, nxt[0]) if nested and nxt else None
    return result


def _literal(lines: _Lines, indent: int, style: str) -> str:
    body: list[str] = []
    block_indent: int | None = None
    while lines.pos < len(lines.lines):
        line = lines.lines[lines.pos]
        if line.strip():
            current = len(line) - len(line.lstrip(" "))
            if current <= indent:
                break
            block_indent = current if block_indent is None else block_indent
            body.append(line[block_indent:])
        else:
            body.append("")
        lines.pos += 1
    while body and not body[-1]:
        body.pop()
    text = "\n".join(body)
    return text if style == "|-" or not text else text + "\n"


def _inline_value(lines: _Lines, text: str, indent: int) -> Any:
    """A value that starts on the key's line; a plain scalar may go on, more indented."""
    if text[0] in "'\"[{":
        return _scalar(text)
    parts = [_strip_comment(text)]
    while lines.pos < len(lines.lines):
        line = lines.lines[lines.pos]
        stripped = line.strip()
        if not stripped or len(line) - len(line.lstrip(" ")) <= indent or stripped[0] == "#":
            break
        parts.append(_strip_comment(stripped))
        lines.pos += 1
    return _scalar(" ".join(parts))


def _strip_comment(text: str) -> str:
    return text.split(" #", 1)[0].rstrip()


def _split_flow(body: str) -> list[str]:
    parts: list[str] = []
    depth, quote, start = 0, "", 0
    for index, char in enumerate(body):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(body[start:index].strip())
            start = index + 1
    tail = body[start:].strip()
    return [*parts, tail] if tail else parts


def _scalar(text: str) -> Any:
    text = text.strip()
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise ValueError(f"unterminated quoted scalar {text!r}")
        return text[1:-1].replace("''", "'")
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"unsupported flow sequence {text!r}")
        return [_scalar(part) for part in _split_flow(text[1:-1])]
    if text.startswith("{"):
        if not text.endswith("}"):
            raise ValueError(f"unsupported flow mapping {text!r}")
        flow: dict[str, Any] = {}
        for part in _split_flow(text[1:-1]):
            key, _, value = part.partition(":")
            flow[str(_scalar(key))] = _scalar(value) if value.strip() else None
        return flow
    text = _strip_comment(text)
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text
