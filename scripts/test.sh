#!/usr/bin/env bash
# The whole test suite: the static checks, then two tiers side by side.
#   SQLite + ORM broker     every test, the end-to-end and browser tests included (always)
#   Postgres + Redis broker every test but the e2e, browser and server ones (when both answer
#                           on 127.0.0.1): the database behaviour again, on the production stack
# The SQLite tier prints as it runs; the Postgres tier writes var/test-logs/postgres.log, printed
# once both are done, so the output ends with a pytest summary line. The exit status is
# non-zero when either tier failed. Arguments go to pytest in both tiers.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
LOGS=var/test-logs

pg_up=0
"$PY" - <<'PYCHECK' && pg_up=1
import socket, sys
for port in (5432, 6379):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        sys.exit(1)
PYCHECK

if [ "$pg_up" = 1 ]; then
  echo "==> Postgres and Redis answer: the suite runs on SQLite and, alongside, on Postgres + Redis."
else
  echo "==> Postgres or Redis does not answer on 127.0.0.1: running the SQLite tier only."
fi

# Static checks first, each failing fast: the layer contracts, the linter, the formatter.
echo "==> Layers: lint-imports (contracts in pyproject.toml)"
"$VENV/bin/lint-imports" --no-cache || { echo "FAILED: an import crosses a layer (see the broken contract above)."; exit 1; }
echo "==> Lint: ruff check"
"$VENV/bin/ruff" check --output-format concise . || { echo "FAILED: ruff check (ruff check --fix . fixes most)."; exit 1; }
echo "==> Format: ruff format --check"
"$VENV/bin/ruff" format --check --output-format concise . || { echo "FAILED: ruff format --check (run ruff format .)."; exit 1; }

mkdir -p "$LOGS"
started=$SECONDS
if [ "$pg_up" = 1 ]; then
  # The e2e tests (the bundled model), the browser tests and the server tests (gunicorn) prove no
  # database behaviour: once is enough.
  # Its own pytest cache, so --lf reruns each tier's own failures.
  DATABASE_URL=${MARKETINGAI_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/marketingai} \
  MARKETINGAI_REDIS_URL=${MARKETINGAI_TEST_REDIS_URL:-redis://127.0.0.1:6379/7} \
  MARKETINGAI_TEST_DESELECT="e2e browser server" \
    "$PY" -m pytest -o cache_dir=.pytest_cache/postgres "$@" >"$LOGS/postgres.log" 2>&1 &
  pg_pid=$!
  # A background job ignores Ctrl-C: stop it with the script.
  trap 'kill "$pg_pid" 2>/dev/null' INT TERM
  echo "==> Tier 2: Postgres + django-q2 Redis broker, all but the e2e, browser and server tests (running; log: $LOGS/postgres.log)"
fi

echo "==> Tier 1: SQLite (WAL) + django-q2 ORM broker, every test"
env -u DATABASE_URL -u MARKETINGAI_REDIS_URL "$PY" -m pytest "$@" 2>&1 | tee "$LOGS/sqlite.log"
status=$?
echo "==> Tier 1 (SQLite) done after $((SECONDS - started)) s, pytest exit status $status."

if [ "$pg_up" = 1 ]; then
  wait "$pg_pid"
  pg_status=$?
  echo "==> Tier 2 (Postgres + Redis) done after $((SECONDS - started)) s, pytest exit status $pg_status:"
  cat "$LOGS/postgres.log"
  # Exit status 5 is "no tests selected": not a failure when the other tier ran tests.
  if [ $status -eq 5 ] && [ $pg_status -ne 5 ]; then
    status=$pg_status
  elif [ $status -eq 0 ] && [ $pg_status -ne 5 ]; then
    status=$pg_status
  fi
fi
exit $status
