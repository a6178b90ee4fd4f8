# Two commands set everything up on a fresh machine with Python 3.11+ and make: `make run`, `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# The web pages' static files (Designsystemet, htmx, Swagger UI, axe-core for the browser tests), from
# the committed package-lock.json; install scripts are not run (none is needed).
NODE_STAMP := node_modules/.installed-stamp
PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

.PHONY: run test lint typecheck unit lock clean screenshots bench-http

# requirements-dev.lock: the runtime lock (requirements.lock) and the tools that check it, all with hashes.
$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes -r requirements-dev.lock
	$(PIP) --no-deps -e .
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

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck $(NODE_STAMP)
	$(BIN)/pytest

# The user guide's pictures (docs/images) from the browser tests' screenshots (needs Debian's chromium).
screenshots: $(STAMP) $(NODE_STAMP)
	$(BIN)/pytest -q -p no:randomly tests/browser
	$(BIN)/python -m tests.browser.curate

# After a change to the dependencies in pyproject.toml (README: "Dependencies"); keeps every other pin.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes -c requirements.lock -o requirements-dev.lock

# The tools and caches only: never var/, which holds the event store (var/settlement.db) and the keys.
clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache build src/*.egg-info node_modules test-artifacts

# The places read against the bare stack (litestar + uvicorn + one psycopg select), with wrk, on
# PostgreSQL (SETTLEMENT_BENCH_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/test); prints both
# servers' requests/s and p99 and their ratio (docs/performance.md).
bench-http: $(STAMP)
	$(BIN)/settlement bench --http-reads
