#!/usr/bin/env bash
# The whole test suite: SQLite + ORM broker, then Postgres + Redis broker when both answer.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"

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
  echo "==> Postgres and Redis answer: the suite runs on SQLite, then on Postgres + Redis."
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

echo "==> Tier 1: SQLite (WAL) + django-q2 ORM broker"
env -u DATABASE_URL -u MARKETINGAI_REDIS_URL "$PY" -m pytest "$@"
status=$?

if [ "$pg_up" = 1 ]; then
  echo "==> Tier 2: Postgres + django-q2 Redis broker"
  DATABASE_URL=${MARKETINGAI_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/marketingai} \
  MARKETINGAI_REDIS_URL=${MARKETINGAI_TEST_REDIS_URL:-redis://127.0.0.1:6379/7} \
    "$PY" -m pytest "$@"
  pg_status=$?
  [ $status -eq 0 ] && status=$pg_status
fi
exit $status
