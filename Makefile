# The two commands: `make demo` runs a simulated print room, `make test` runs the tests.
# Both set everything up on a fresh Debian machine (a .venv, the project, the Debian packages).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.pmc-installed

.PHONY: demo test setup debian-deps bench clean

demo: setup
	$(VENV)/bin/pmc demo

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

setup: debian-deps $(STAMP)

debian-deps:
	@bash .ci/deps.sh

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build *.egg-info
