"""The execution graph page as a browser shows it: headless Chromium renders it.

``--dump-dom`` gives the DOM after parsing (every operation of the history must be a
node of the tree); ``--screenshot`` gives a PNG, decoded here with the standard library
(PNG is zlib-compressed scanlines with one filter byte per row, RFC 2083) to check the
page is not blank. Without Chromium the test is skipped, unless
``DURABLE_REQUIRE_CHROMIUM=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from durable_closure import run
from durable_core import DurableContext
from durable_testing import LocalService
from durable_testing.graph import render_html

from tests.console.browser import chromium

OPERATIONS = ["load", "cool-off", "ship", "pack", "approval or timeout", "approval", "timeout"]


def _history() -> list[dict[str, Any]]:
    def workflow(event: Any, ctx: DurableContext) -> str:
        ctx.step(lambda _: "order", name="load")
        ctx.wait(60, name="cool-off")
        ctx.race(
            lambda c: c.create_callback("approval").result(),
            lambda c: c.wait(30, name="timeout"),
            name="approval or timeout",
        )
        packed: str = ctx.run_in_child_context(
            lambda c: c.step(lambda _: "ok", name="pack"), name="ship"
        )
        return packed

    service = LocalService()
    service.register("workflow", run(workflow))
    result = service.run("workflow", {})
    assert result.status.value == "SUCCEEDED"
    return result.history


def _browse(page: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1200,900",
        *flags,
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


class _Nodes(HTMLParser):
    """The text of every ``span.node`` of the operation tree."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes: list[str] = []
        self._inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        self._inside = tag == "span" and "node" in classes
        if self._inside:
            self.nodes.append("")

    def handle_endtag(self, tag: str) -> None:
        self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside:
            self.nodes[-1] += data


def _pixels(png: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered RGB(A) rows of an 8-bit truecolour PNG."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks, header = 8, b"", b""
    while offset < len(png):
        (length,) = struct.unpack(">I", png[offset : offset + 4])
        kind = png[offset + 4 : offset + 8]
        body = png[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks += body
        offset += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert (depth, colour) in ((8, 2), (8, 6)), "expected 8-bit RGB or RGBA"
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(chunks)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(bytes(line))
        previous = line
    return width, height, rows


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("graph") / "execution.html"
    path.write_text(render_html(_history()), encoding="utf-8")
    return path


def test_the_rendered_dom_holds_every_operation(page: Path, tmp_path: Path) -> None:
    dom = _browse(page, tmp_path, "--dump-dom").stdout
    parser = _Nodes()
    parser.feed(dom)
    for name in OPERATIONS:
        assert any(name in node for node in parser.nodes), f"{name!r} not in the rendered tree"
    assert "<svg" in dom  # the timeline survived parsing


def test_the_screenshot_is_a_page_not_a_blank(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "page.png"
    _browse(page, tmp_path, f"--screenshot={shot}")
    width, height, rows = _pixels(shot.read_bytes())
    assert (width, height) == (1200, 900)
    # Sample pixels along every fourth row: a blank page has a single colour.
    colours = {row[x : x + 3] for row in rows[::4] for x in range(0, len(row) - 3, 48)}
    assert len(colours) > 10, f"only {len(colours)} colours: the page rendered blank"
