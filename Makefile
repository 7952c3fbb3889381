# The front door: every set-up step lives here so a fresh machine needs only `make demo` / `make test`.
SHELL := /bin/bash
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell $(PYTHON) -c "import sys; print(sys.executable)")
UV := $(PYTHON) -m uv
RUN := $(UV) run --frozen

.PHONY: install uv conformance-venv demo test lint typecheck pytest bench clean cfn-lint wheels

uv:
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv

install: uv
	$(UV) sync --frozen --all-packages

# AWS's conformance validator judges tests/conformance. Its wheel asks for Python 3.14
# (it runs on ours), so it lives in its own venv, outside the lock.
CONFORMANCE_VENV := .venv-conformance
CONFORMANCE_WHEEL := aws-durable-execution-conformance-tests==1.0.0

$(CONFORMANCE_VENV)/installed:
	$(PYTHON) -m venv $(CONFORMANCE_VENV)
	$(CONFORMANCE_VENV)/bin/python -m pip install --quiet --ignore-requires-python $(CONFORMANCE_WHEEL)
	touch $@

conformance-venv: $(CONFORMANCE_VENV)/installed

demo: install
	$(RUN) python examples/order_demo.py --store .demo/durable.sqlite3

lint: install
	$(RUN) ruff check packages tests benchmarks $(wildcard examples)
	$(RUN) ruff format --check packages tests benchmarks $(wildcard examples)

# mypy --strict over the packages, the examples (users copy them), the benchmarks and
# the tests. The typing tests (tests/typecheck) are files mypy checks: each assert_type,
# each expected error, is part of the gate. Not held to it yet: tests/core but its
# typing tests, tests/compat and tests/conformance (86 errors, mostly untyped helpers
# and AWS's untyped packages); the lint fixtures are sample code for the linter.
UNTYPED_TESTS := tests/core/ tests/compat/ tests/conformance/ tests/lint/ tests/__pycache__/
TYPED_TESTS := $(filter-out $(UNTYPED_TESTS),$(wildcard tests/*/)) $(wildcard tests/*.py) \
	$(wildcard tests/lint/*.py) tests/core/test_async_typing.py tests/core/test_async_unawaited.py

typecheck: install
	$(RUN) mypy $(dir $(wildcard packages/*/src/*/__init__.py)) examples benchmarks $(TYPED_TESTS)

pytest: install conformance-venv
	$(RUN) pytest

# The SAM template of the examples, as CloudFormation and SAM's transform read it.
cfn-lint: install
	$(RUN) cfn-lint examples/template.yaml

# Every package's wheel, in dist/ (tests/packaging installs them in a fresh venv).
wheels: uv
	rm -rf dist
	$(UV) build --all-packages --wheel --out-dir dist

test: lint cfn-lint typecheck pytest

bench: install
	$(RUN) python benchmarks/run.py

clean:
	rm -rf .venv .venv-conformance .demo .mypy_cache .ruff_cache .pytest_cache
