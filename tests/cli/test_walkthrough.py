"""README's walkthrough "Answering a callback from another terminal", run as written in two
real processes: ``durable run`` waits on the callback, a second ``durable callback``
answers it, and the first prints the result the README promises. Then the same with the
first process stopped: the answer is recorded in the store and the execution resumed with
the handler the store remembers."""

from __future__ import annotations

import json
import queue
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECTION = "### Answering a callback from another terminal"
DURABLE = [sys.executable, "-m", "durable_testing.cli"]


def _walkthrough() -> tuple[list[str], list[str], object]:
    """The two commands of the section and the result it says the first one prints."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(SECTION) :].split("\n## ")[0]
    run, answer = re.findall(r"```bash\n(durable .*?)\n```", section)
    promised = re.search(r"prints the\s+result, `(.*?)`", section)
    assert promised is not None
    return shlex.split(run), shlex.split(answer), json.loads(promised.group(1))


class _Lines:
    """A process's stderr, read on a thread so the test can wait for a line with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        assert process.stderr is not None
        stream = process.stderr

        def pump() -> None:
            for line in stream:
                self._lines.put(line)

        threading.Thread(target=pump, daemon=True).start()

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} in:\n{''.join(self.seen)}")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A folder holding the example, as the README's commands expect (store: the default)."""
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "decorator_signup.py", tmp_path / "examples")
    return tmp_path


def _start_run(command: list[str], cwd: Path) -> tuple[subprocess.Popen[str], _Lines, str]:
    assert command[0] == "durable"
    process = subprocess.Popen(
        [*DURABLE, *command[1:]],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = _Lines(process)
    callback_id = lines.wait_for(r"waiting for callback confirm-email (\S+)").group(1)
    lines.wait_for(rf"answer it from another terminal: .*callback succeed {re.escape(callback_id)}")
    return process, lines, callback_id


def _answer(command: list[str], callback_id: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [*DURABLE, *[callback_id if word == "CALLBACK_ID" else word for word in command[1:]]]
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_first_terminal_carries_on_when_the_second_answers(checkout: Path) -> None:
    run, answer, promised = _walkthrough()
    process, _, callback_id = _start_run(run, checkout)
    try:
        answered = _answer(answer, callback_id, checkout)
        assert answered.returncode == 0, answered.stderr
        assert "sent to http://127.0.0.1:" in answered.stdout
        out, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 0
    assert json.loads(out) == promised


def test_a_stopped_run_is_resumed_by_the_answer(checkout: Path) -> None:
    run, answer, promised = _walkthrough()
    process, lines, callback_id = _start_run(run, checkout)
    try:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    finally:
        process.kill()
    assert process.returncode == 130
    lines.wait_for(r"stopped; .* stays in")
    assert not any("Traceback" in line for line in lines.seen)

    answered = _answer(answer, callback_id, checkout)
    assert answered.returncode == 0, answered.stderr
    assert "with examples/decorator_signup.py:handler" in answered.stderr
    assert json.loads(answered.stdout) == promised
