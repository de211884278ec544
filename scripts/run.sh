#!/usr/bin/env bash
# Migrate, load the demo workspace, start the bundled model, the task cluster and the admin.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
ADMIN_PORT=${MARKETINGAI_ADMIN_PORT:-8000}
MODEL_PORT=${MARKETINGAI_LOCAL_MODEL_PORT:-8081}
export MARKETINGAI_LOCAL_MODEL_PORT=$MODEL_PORT
mkdir -p var/log
# The demo CDP endpoint (served by the admin) and its source in the demo share this token.
export MARKETINGAI_DEMO_CDP_TOKEN=${MARKETINGAI_DEMO_CDP_TOKEN:-demo-cdp-token}
# The demo platforms (email, chat, CMS; served by the admin) and the demo's destinations share
# this token; the CMS takes it as WordPress's "user:application password".
export MARKETINGAI_DEMO_PLATFORM_TOKEN=${MARKETINGAI_DEMO_PLATFORM_TOKEN:-demo-platform-token}
export MARKETINGAI_DEMO_CMS_CREDENTIAL=${MARKETINGAI_DEMO_CMS_CREDENTIAL:-demo:$MARKETINGAI_DEMO_PLATFORM_TOKEN}
# The demo email platform signs its event webhooks; measurement verifies them with this public key.
export MARKETINGAI_DEMO_EVENT_WEBHOOK_KEY=${MARKETINGAI_DEMO_EVENT_WEBHOOK_KEY:-MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEdi28bMIZPnN8LnONS8cHuotDuCfpTh9sqnRsBHKzFVLn3AMafjfsELsi4ATO8awIzE6w9GW7TWDwHoWl93nk3g==}
export MARKETINGAI_DEMO_WEBHOOK_SECRET=${MARKETINGAI_DEMO_WEBHOOK_SECRET:-whsec_bWFya2V0aW5nYWktZGVtby13ZWJob29rLXNlY3JldCE=}  # the demo webhook trigger's (docs/triggers.md)
export MARKETINGAI_ADMIN_PORT=$ADMIN_PORT
# The local demo asks for debug pages and the demo (its users with published passwords, the demo CDP).
export MARKETINGAI_DEBUG=${MARKETINGAI_DEBUG:-1}
export MARKETINGAI_DEMO=${MARKETINGAI_DEMO:-1}
# Commands run without --user, and scheduled tasks, act as this account (load_demo creates it).
export MARKETINGAI_SERVICE_USER=${MARKETINGAI_SERVICE_USER:-marketingai-bot}

# Commands run from another shell (publish_run, pull_audience, ...) see the same settings:
# manage.py reads this file for the variables its environment lacks (marketingai/envfile.py).
{
  echo "# Written by make run (scripts/run.sh): the running demo's settings. Safe to delete."
  for name in MARKETINGAI_DEBUG MARKETINGAI_DEMO MARKETINGAI_ADMIN_PORT MARKETINGAI_LOCAL_MODEL_PORT \
    MARKETINGAI_SERVICE_USER MARKETINGAI_DEMO_CDP_TOKEN MARKETINGAI_DEMO_PLATFORM_TOKEN \
    MARKETINGAI_DEMO_CMS_CREDENTIAL MARKETINGAI_DEMO_WEBHOOK_SECRET MARKETINGAI_DEMO_EVENT_WEBHOOK_KEY; do
    echo "$name=${!name}"
  done
} >var/marketingai.env
chmod 600 var/marketingai.env

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "==> Migrating the database"
"$PY" manage.py migrate --noinput
echo "==> Loading the demo workspace"
"$PY" manage.py load_demo

model_url="http://127.0.0.1:$MODEL_PORT/v1"
if [ -z "${OPENAI_BASE_URL:-}" ]; then
  if curl -fsS "$model_url/models" >/dev/null 2>&1; then
    echo "==> The bundled model already answers at $model_url"
  else
    echo "==> Starting the bundled model at $model_url (log: var/log/model.log)"
    "$PY" manage.py serve_local_model --port "$MODEL_PORT" >var/log/model.log 2>&1 &
    pids+=($!)
    for _ in $(seq 1 60); do
      curl -fsS "$model_url/models" >/dev/null 2>&1 && break
      sleep 1
    done
    curl -fsS "$model_url/models" >/dev/null 2>&1 || { echo "The model server did not start; see var/log/model.log" >&2; exit 1; }
  fi
else
  echo "==> Using the model endpoint at $OPENAI_BASE_URL"
fi

echo "==> Starting the task cluster (log: var/log/qcluster.log)"
"$PY" manage.py qcluster >var/log/qcluster.log 2>&1 &
pids+=($!)

cat <<MSG

  marketingai is running.
  Admin:  http://127.0.0.1:$ADMIN_PORT/admin/
  Demo logins (demo only, never use these passwords elsewhere):
$(DJANGO_SETTINGS_MODULE=marketingai.settings "$PY" -c 'import django; django.setup()
from demo.users import DEMO_PASSWORDS
print("\n".join(f"    {u:8} {p}" for u, p in DEMO_PASSWORDS.items()))')
  Try: Workflows > Workflows > Trial expiration email > Start run
  Or:  $PY manage.py run_workflow trial_expiration_email --user ops --json

  From brief to a delivered message, offline (what each platform received: Admin > Demo > Outbox,
  http://127.0.0.1:$ADMIN_PORT/admin/demo/outboxmessage/):
    $PY manage.py run_workflow trial_expiration_email --user ops --sync --json
    $PY manage.py approval_queue
    $PY manage.py decide_item <item> --decision approve --user legal
        (the reviewer of the item's queue: legal, brand, lifecycle or product; the chat post arrives)
    $PY manage.py publish_run <run> --user manager
        (a manager, not the run's starter: one email per recipient, scheduled for 09:00 UTC;
         run it again and nothing more arrives)
    $PY manage.py unpublish_run <run> --user manager --reason "Wrong offer"
        (the scheduled emails are cancelled, the chat post deleted, the blog post a draft again)

  The weekly ad performance review (scheduled Mondays 07:00 Europe/Berlin; Triggers > Triggers):
    $PY manage.py run_workflow weekly_ad_performance_review --user ops --sync --json
  Stop with Ctrl-C.

MSG
"$PY" manage.py runserver "127.0.0.1:$ADMIN_PORT" --noreload
