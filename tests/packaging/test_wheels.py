"""What we ship installs and runs on its own: every package's wheel carries its metadata
(license, URLs, classifiers, README, sibling pins at the same version), and the wheels
alone, in a fresh venv without the workspace or its dev dependencies, import, run an
example and the ``durable`` command.

The wheel test builds with ``uv build`` and installs with ``uv pip`` (from uv's cache
when warm; otherwise from PyPI, nothing else); it is marked ``wheels``
(``pytest -m "not wheels"`` leaves it out when iterating).
"""

from __future__ import annotations

import email.parser
import importlib
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "durable-core": "durable_core",
    "durable-closure": "durable_closure",
    "durable-decorator": "durable_decorator",
    "durable-class": "durable_class",
    "durable-builder": "durable_builder",
    "durable-testing": "durable_testing",
}
DEPLOYED = ("closure_order", "decorator_signup", "class_invoice", "builder_report")


def _project(name: str) -> dict[str, Any]:
    with (ROOT / "packages" / name / "pyproject.toml").open("rb") as file:
        project: dict[str, Any] = tomllib.load(file)["project"]
    return project


def _uv() -> str:
    # ``uv run`` tells its children where uv is; otherwise the one on PATH.
    return os.environ.get("UV", "uv")


@pytest.mark.parametrize("name", PACKAGES)
def test_each_package_declares_what_a_wheel_needs(name: str) -> None:
    project = _project(name)
    assert project["license"] == "MIT OR Apache-2.0"
    for license_file in project["license-files"]:
        assert (ROOT / "packages" / name / license_file).read_text().strip()
    assert (ROOT / "packages" / name / project["readme"]).read_text().startswith(f"# {name}")
    assert project["urls"] and all(url.startswith("https://") for url in project["urls"].values())
    assert "Typing :: Typed" in project["classifiers"]
    module = importlib.import_module(PACKAGES[name])
    assert module.__version__ == project["version"]


@pytest.mark.parametrize("name", PACKAGES)
def test_siblings_are_pinned_to_the_same_version(name: str) -> None:
    project = _project(name)
    for requirement in project["dependencies"]:
        sibling = requirement.split("==")[0]
        if sibling in PACKAGES:
            assert requirement == f"{sibling}=={_project(sibling)['version']}"


def test_the_examples_folder_has_what_sam_build_needs() -> None:
    # CodeUri is examples/: the handlers and a requirements.txt pinning what they import.
    pinned = {
        line.split("==")[0]: line.split("==")[1]
        for line in (ROOT / "examples" / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    }
    template = (ROOT / "examples" / "template.yaml").read_text()
    assert "CodeUri: ." in template
    for example in DEPLOYED:
        assert f"Handler: {example}.handler" in template
        source = (ROOT / "examples" / f"{example}.py").read_text()
        for name, module in PACKAGES.items():
            if f"from {module} import" in source or f"import {module}" in source:
                assert pinned.get(name) == _project(name)["version"], (example, name)


SMOKE = """
import importlib, json, sys
for module in {modules!r}:
    imported = importlib.import_module(module)
    assert imported.__file__.startswith(sys.prefix), (module, imported.__file__)
    print(module, imported.__version__)
"""


@pytest.mark.wheels
def test_the_wheels_alone_install_import_and_run(tmp_path: Path) -> None:
    dist, venv = tmp_path / "dist", tmp_path / "venv"

    def run(*command: str | Path, cwd: Path = tmp_path) -> str:
        env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
        done = subprocess.run(
            [str(part) for part in command],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    run(_uv(), "build", "--all-packages", "--wheel", "--out-dir", dist, cwd=ROOT)
    wheels = sorted(dist.glob("*.whl"))
    assert len(wheels) == len(PACKAGES)
    for wheel in wheels:
        _check_metadata(wheel)

    run(_uv(), "venv", "--python", sys.executable, venv)
    python = venv / "bin" / "python"
    run(_uv(), "pip", "install", "--python", python, *wheels)
    installed = run(_uv(), "pip", "freeze", "--python", python)
    for dev_only in ("pytest", "mypy", "aws-durable-execution-sdk-python", "hypothesis"):
        assert f"{dev_only}==" not in installed

    imports = run(python, "-c", SMOKE.format(modules=list(PACKAGES.values())))
    assert imports.split() == [word for m in PACKAGES.values() for word in (m, "0.1.0")]
    durable = venv / "bin" / "durable"
    assert "usage: durable" in run(durable, "--help")
    example = ROOT / "examples" / "closure_order.py"
    output = run(
        durable, "run", f"{example}:handler", "--input", '{"order_id": "o-1", "items": [5]}'
    )
    assert json.loads(output) == {
        "order_id": "o-1",
        "cents": 5,
        "charge": "ch_o-1_5",
        "tracking": "1Z-parcel-o-1",
    }


def _check_metadata(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(metadata_name).decode())
    name = metadata["Name"]
    assert metadata["License-Expression"] == "MIT OR Apache-2.0", name
    assert {"LICENSE-MIT", "LICENSE-APACHE"} <= set(metadata.get_all("License-File") or []), name
    assert any(n.endswith("/licenses/LICENSE-APACHE") for n in names), name
    assert metadata.get_all("Project-URL"), name
    assert "Typing :: Typed" in (metadata.get_all("Classifier") or []), name
    assert metadata["Description-Content-Type"] == "text/markdown", name
    assert str(metadata.get_payload()).startswith(f"# {name}"), name
    assert any(n.endswith("/py.typed") for n in names), name
    for requirement in metadata.get_all("Requires-Dist") or []:
        if requirement.startswith("durable-"):
            assert requirement.endswith(f"=={metadata['Version']}"), (name, requirement)
