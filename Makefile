# Area Clienti: `make run` serves the demo portal, `make test` runs every test
# (`make test-postgres`: every test again on PostgreSQL).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
# The demo server's limits: an idle or trickling connection is closed after 20 s
# without a byte (waitress reads every request whole before a thread sees it, so a
# slow client holds a connection slot, never a thread); at most 200 connections; a
# body beyond the portal's 6 MB upload limit is refused before it is read whole.
WAITRESS_LIMITS ?= --channel-timeout=20 --cleanup-interval=5 --connection-limit=200 \
	--max-request-header-size=65536 --max-request-body-size=7340032
export FLASK_APP := app

# The database of `make test-postgres`: its role must be able to create schemas in it
# (each test gets its own). README, "PostgreSQL", shows how to make one.
TEST_DATABASE_URL ?= postgresql://portal:portal@127.0.0.1/portal_test

.PHONY: run test test-postgres test-fast fuzz bench clean-demo

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

instance/portal.db: | $(BIN)/.installed
	$(BIN)/flask init-db
	$(BIN)/flask demo --if-empty

run: $(BIN)/.installed instance/portal.db
	$(BIN)/flask init-db
	$(BIN)/waitress-serve --host=$(HOST) --port=$(PORT) --threads=8 $(WAITRESS_LIMITS) \
		--call app:create_app

# Browser tests need Debian's chromium. Without it they are left out with a clear
# message, except under CI, where they must run (and fail if they cannot).
test: $(BIN)/.installed
	@if command -v chromium >/dev/null 2>&1; then \
		$(BIN)/python -m pytest $(PYTEST_ARGS); \
	elif [ -n "$$CI" ]; then \
		echo "CI: chromium is missing, the browser tests cannot run (apt-get install -y chromium)." >&2; exit 1; \
	else \
		echo "*** chromium not found: browser tests NOT run. Install it: sudo apt-get install -y chromium ***" >&2; \
		$(BIN)/python -m pytest -m "not browser" $(PYTEST_ARGS); \
	fi

# The whole suite on PostgreSQL; the tests of SQLite itself (marked sqlite_only) are
# left out.
test-postgres: $(BIN)/.installed
	TEST_DATABASE_URL='$(TEST_DATABASE_URL)' $(MAKE) --no-print-directory test

# Everything but the browser and slow tests: the quick loop while developing.
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not browser and not slow" $(PYTEST_ARGS)

# Hypothesis with 1,000 examples per form and per page (the normal suite runs 25).
fuzz: $(BIN)/.installed
	FUZZ_EXAMPLES=1000 $(BIN)/python -m pytest tests/test_fuzz.py $(PYTEST_ARGS)

# Load test of every customer page under gunicorn against a bare Flask route, on a
# generated medium database (made once under BENCH_DIR, about 2 minutes); appends the
# figures to bench/RESULTS.md. BENCH_ARGS="--duration 300" for the 5-minute run,
# BENCH_ARGS="--scale large" for ten times the data. See bench/README.md.
bench: $(BIN)/.installed
	$(BIN)/python bench/bench_pages.py $(BENCH_ARGS)

clean-demo:
	rm -rf instance/portal.db instance/portal.db-wal instance/portal.db-shm instance/files instance/outbox
