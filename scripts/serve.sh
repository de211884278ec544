#!/usr/bin/env bash
# The web tier only (docs/production.md): collect static files, migrate, check the deploy
# settings, then serve the admin under gunicorn (marketingai/gunicorn.conf.py), DEBUG off.
# The task cluster is its own process: `python manage.py qcluster`, on this host or others.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
# Never debug pages here, whatever a settings file says (the environment wins over it).
export MARKETINGAI_DEBUG=0
# Settings come from the environment or from the file MARKETINGAI_ENV_FILE names; not from the
# file `make run` writes for its demo.
export MARKETINGAI_ENV_FILE=${MARKETINGAI_ENV_FILE-}

echo "==> Collecting static files"
"$PY" manage.py collectstatic --noinput -v 0
echo "==> Migrating the database"
"$PY" manage.py migrate --noinput
echo "==> Checking the deploy settings (errors stop here; warnings say what production still lacks)"
"$PY" manage.py check --deploy
echo "==> Starting gunicorn (bind: MARKETINGAI_BIND, default 127.0.0.1:8000; Ctrl-C stops it)"
exec "$PY" -m gunicorn -c marketingai/gunicorn.conf.py
