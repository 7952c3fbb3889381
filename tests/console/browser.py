"""Headless Chromium driven over the DevTools protocol, for the console's browser tests.

The protocol runs over ``--remote-debugging-pipe``: Chromium reads JSON messages from
its fd 3 and writes to its fd 4, each ended by a NUL byte (the transport Puppeteer's
``pipe: true`` uses). That needs neither a websocket client (the stdlib has none) nor a
debugging port. Every wait is bounded; a page that never gets there fails the test
with what was awaited. Without Chromium the tests skip, unless
``DURABLE_REQUIRE_CHROMIUM=1`` (``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1000",
)


def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        message = "chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("DURABLE_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{message}; DURABLE_REQUIRE_CHROMIUM=1 requires it")
        pytest.skip(message)
    return path


def _above_four(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    """One Chromium process with a new empty profile; ``open`` gives a tab."""

    def __init__(self, profile: Path, timeout: float = 15.0) -> None:
        self.timeout = timeout
        to_browser, self._out = os.pipe()
        self._in, from_browser = os.pipe()
        # Above 4, so that placing one end on fd 3 or 4 cannot overwrite the other.
        to_browser, from_browser = (_above_four(fd) for fd in (to_browser, from_browser))
        # bash (dash redirects single-digit fds only) puts the ends on fds 3 and 4, where
        # Chromium looks for them.
        command = [
            "/bin/bash",
            "-c",
            f'exec "$0" "$@" 3<&{to_browser} 4>&{from_browser}',
            chromium(),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            command,
            pass_fds=(to_browser, from_browser),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_browser)
        os.close(from_browser)
        self._buffer = b""
        self._last_id = 0

    def call(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        """Send one command and return its result (events in between are dropped)."""
        self._last_id += 1
        message: dict[str, Any] = {"id": self._last_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            answer = self._receive(deadline, method)
            if answer.get("id") == self._last_id:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})

    def _receive(self, deadline: float, method: str) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            ready = select.select([self._in], [], [], max(remaining, 0))[0]
            if not ready:
                raise TimeoutError(f"Chromium did not answer {method}")
            chunk = os.read(self._in, 1 << 16)
            if not chunk:
                raise RuntimeError(f"Chromium closed the pipe during {method}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        answer: dict[str, Any] = json.loads(message)
        return answer

    def open(self, url: str) -> Tab:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        tab = Tab(self, session["sessionId"])
        tab.go(url)
        return tab

    def close(self) -> None:
        try:
            self.call("Browser.close")
            self.process.wait(timeout=10)
        except (TimeoutError, RuntimeError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            os.close(self._out)
            os.close(self._in)


class Tab:
    """One page: navigate, evaluate JavaScript, wait for a condition, take a screenshot."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session

    def call(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.browser.call(method, params, self.session)

    def go(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for(f"location.href === {json.dumps(url)} && document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        answer = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in answer:
            raise AssertionError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 10.0) -> Any:
        """Poll ``expression`` until it is truthy; its value. Fails after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"still false after {timeout} s: {expression}")
            time.sleep(0.05)

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        path.write_bytes(base64.b64decode(data["data"]))
        return path
