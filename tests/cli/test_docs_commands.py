"""Every ``durable`` command and flag the docs name works as written: each invocation in
the READMEs, docs/ and the examples is checked against the CLI's own ``--help`` (the
command exists, it has every flag named, and every value listed for a flag with choices).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from durable_testing.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted(
    [
        ROOT / "README.md",
        *ROOT.glob("packages/*/README.md"),
        *ROOT.glob("docs/*.md"),
        *ROOT.glob("examples/*.py"),
        ROOT / "examples" / "README.md",
    ]
)
COMMAND = re.compile(r"\bdurable ([a-z]+)\b((?:[^`\n|]|\\\|)*(?:\|(?! )(?:[^`\n|]|\\\|)*)*)")
SUBCOMMANDS = ("run", "history", "callback", "serve", "replay", "lint", "list", "budget")


def _invocations() -> list[tuple[str, str, str]]:
    """(where, command, the rest of the line) for each ``durable COMMAND ...`` in the docs."""
    found = []
    for document in DOCUMENTS:
        for number, line in enumerate(document.read_text().splitlines(), start=1):
            for match in COMMAND.finditer(line):
                if match.group(1) in SUBCOMMANDS or match.group(2).lstrip().startswith("-"):
                    where = f"{document.relative_to(ROOT)}:{number}"
                    found.append((where, match.group(1), match.group(2)))
    return found


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def _flags(rest: str) -> list[tuple[str, list[str]]]:
    """Each ``--flag`` of an invocation and the literal values it is given (``json``, or
    ``a|b|c`` for a list of them; an upper-case placeholder such as ``PATH`` is none)."""
    words = rest.replace("\\|", "|").replace("[", " ").replace("]", " ").split()
    flags = []
    for i, word in enumerate(words):
        if word.startswith("--"):
            flag, _, attached = word.partition("=")
            following = attached or (words[i + 1] if i + 1 < len(words) else "")
            values = [v for v in following.split("|") if re.fullmatch(r"[a-z][a-z-]*", v)]
            flags.append((flag, values))
    return flags


INVOCATIONS = _invocations()


def test_the_docs_name_commands() -> None:
    assert len(INVOCATIONS) > 20
    named = {command for _, command, _ in INVOCATIONS}
    assert named >= {"run", "history", "callback", "serve", "replay", "lint"}


@pytest.mark.parametrize(("where", "command", "rest"), INVOCATIONS, ids=[i[0] for i in INVOCATIONS])
def test_each_documented_invocation_matches_the_help(
    where: str, command: str, rest: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command in SUBCOMMANDS, f"{where}: `durable {command}` is not a command"
    text = _help(command, capsys)
    for flag, choices in _flags(rest):
        assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text), (
            f"{where}: `durable {command}` has no {flag}"
        )
        listed = re.search(rf"{re.escape(flag)} \{{([^}}]*)\}}", text)
        if listed:
            missing = set(choices) - set(listed.group(1).split(","))
            assert not missing, f"{where}: {flag} of `durable {command}` lacks {sorted(missing)}"
        else:
            assert len(choices) < 2, f"{where}: {flag} of `durable {command}` takes no choices"
    outcome = re.match(r"\s*([a-z]+(?:\|[a-z]+)+)", rest.replace("\\|", "|"))
    if command == "callback" and outcome:
        assert set(outcome.group(1).split("|")) <= {"succeed", "fail", "heartbeat"}
