# Two commands set everything up on a fresh machine with Python 3.11+ and make: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The web pages' static files (Designsystemet, htmx, Swagger UI, axe-core for the browser tests), from
# the committed package-lock.json; install scripts are not run (none is needed).
NODE_STAMP := node_modules/.installed-stamp

.PHONY: run test lint unit clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js (npm) is needed for the web pages' static files"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $(NODE_STAMP)

run: $(STAMP) $(NODE_STAMP)
	$(BIN)/settlement serve --demo

lint: $(STAMP)
	$(BIN)/ruff format --check src tests
	$(BIN)/ruff check src tests
	$(BIN)/lint-imports

test: lint $(NODE_STAMP)
	$(BIN)/pytest

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis node_modules test-artifacts
