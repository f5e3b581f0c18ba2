# OwlGrid: `make run` sets everything up and starts it; `make test` runs the checks and the whole suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_REDIS_URL ?= $(or $(OWLGRID_TEST_REDIS_URL),redis://127.0.0.1:6379/15)

.PHONY: run test lint bench migrate venv clean screenshots

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# `make run HOST=0.0.0.0 PORT=9000` serves on another address or port.
HOST ?= 127.0.0.1
PORT ?= 8000
run: venv
	$(PY) manage.py serve --host $(HOST) --port $(PORT)

migrate: venv
	$(PY) manage.py migrate --noinput

# Style, the architecture's import contracts (pyproject.toml, [tool.importlinter]), then the
# types of access, workflows and runner ([tool.mypy]).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

# Tests use a Redis database of their own (flushing it never touches a running OwlGrid).
test: venv lint
	REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest

# Refresh README's pictures (editor, diff, workflow page, run page) from the Chromium tests.
screenshots: venv
	OWLGRID_UPDATE_SCREENSHOTS=1 REDIS_URL=$(TEST_REDIS_URL) $(VENV)/bin/pytest tests/browser/test_builder.py tests/browser/test_deploy.py tests/browser/test_run_page_scale.py

bench: venv
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .ruff_cache .mypy_cache
