# Zhudian set-up: `make demo` and `make test` do everything on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME_STAMP := $(VENV)/.installed-runtime
DEV_STAMP     := $(VENV)/.installed-dev
PYTEST_ARGS ?=

.PHONY: demo test install install-dev system-deps clean

demo: install system-deps
	$(BIN)/zhudian demo --out out/demo

# the store tests also run against a throwaway PostgreSQL + PostGIS cluster (ZHUDIAN_TEST_PG_URL)
test: install-dev system-deps
	sh .ci/with-postgres.sh $(BIN)/pytest $(PYTEST_ARGS)

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# versions pinned in constraints.txt (regenerate with: .venv/bin/pip freeze --exclude-editable > constraints.txt)
$(RUNTIME_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .
	touch $@

$(DEV_STAMP): $(RUNTIME_STAMP)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev,bench]"
	touch $@

# Debian packages: a CJK font (maps and printed sheets), Chromium (map tests), poppler (PDF checks),
# PostgreSQL + PostGIS (store tests on the production backend)
system-deps:
	@sh .ci/system-deps.sh

clean:
	rm -rf $(VENV) out .pytest_cache
