"""Secure by default: debug and the demo only when asked for, a clean deploy check, debug pages without secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

ROOT = Path(__file__).resolve().parents[2]


def clean_env(tmp_path) -> dict[str, str]:
    """The environment of a fresh install: none of our variables, its own var directory."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MARKETINGAI_", "DJANGO_", "OPENAI_")) and k != "DATABASE_URL"
    }
    env["MARKETINGAI_VAR_DIR"] = str(tmp_path)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def render_error_pages(request) -> tuple[str, str]:
    """The technical 500 page and the error email's text, for an error raised here."""
    from django.views.debug import ExceptionReporter, technical_500_response

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    return technical_500_response(request, *exc_info).content.decode(), ExceptionReporter(
        request, *exc_info
    ).get_traceback_text()


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "marketingai.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_block() -> str:
    docs = (ROOT / "docs" / "configuration.md").read_text()
    section = docs[docs.index("### Production settings") :]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def check_deploy(env: dict[str, str], *, before: str = "") -> subprocess.CompletedProcess:
    script = f"{before}\nexec python manage.py check --deploy --fail-level WARNING"
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_debug_and_the_demo_are_off_without_a_secret_key_or_any_setting(tmp_path):
    shown = run_python(
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.MARKETINGAI_DEMO, s.MARKETINGAI_DEMO_CDP, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE)",
        clean_env(tmp_path),
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split() == ["False", "False", "False", "True", "True"]


def test_make_run_asks_for_debug_and_the_demo_before_loading_it():
    script = (ROOT / "scripts" / "run.sh").read_text()
    load = script.index("manage.py load_demo")
    assert 0 <= script.find("export MARKETINGAI_DEBUG=") < load
    assert 0 <= script.find("export MARKETINGAI_DEMO=") < load
    shown = subprocess.run(
        [
            "bash",
            "-c",
            'eval "$(grep -E "^export MARKETINGAI_(DEBUG|DEMO)=" scripts/run.sh)"; echo $MARKETINGAI_DEBUG $MARKETINGAI_DEMO',
        ],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
    )
    assert shown.stdout.split() == ["1", "1"]


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    result = check_deploy(clean_env(tmp_path), before=production_block())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_names_what_a_bare_install_lacks(tmp_path):
    result = check_deploy(clean_env(tmp_path))

    assert result.returncode != 0
    for check_id in ("security.W004", "security.W008", "workflows.W010"):
        assert check_id in result.stderr + result.stdout


def test_check_deploy_warns_while_the_demo_is_on(tmp_path):
    result = check_deploy(
        clean_env(tmp_path), before=production_block() + "\nexport MARKETINGAI_DEMO=1"
    )

    assert result.returncode != 0 and "workflows.W011" in result.stderr + result.stdout


def test_the_tls_proxy_header_is_trusted_only_when_asked_for(tmp_path):
    code = "import django; django.setup(); from django.conf import settings as s; print(s.SECURE_PROXY_SSL_HEADER)"
    assert run_python(code, clean_env(tmp_path)).stdout.strip() == "None"
    behind = run_python(code, {**clean_env(tmp_path), "MARKETINGAI_BEHIND_TLS_PROXY": "1"})
    assert behind.stdout.strip() == "('HTTP_X_FORWARDED_PROTO', 'https')"


@pytest.mark.django_db
def test_the_load_demo_command_refuses_unless_the_demo_is_on(settings):
    from django.contrib.auth import get_user_model

    settings.DEBUG = True
    settings.MARKETINGAI_DEMO = False
    with pytest.raises(CommandError, match="only loads with MARKETINGAI_DEMO=1"):
        call_command("load_demo")
    assert not get_user_model().objects.exists()

    settings.MARKETINGAI_DEMO = True
    call_command("load_demo")
    assert get_user_model().objects.filter(username="admin").exists()


def test_the_load_demo_command_has_no_force_switch():
    with pytest.raises(CommandError):
        call_command("load_demo", "--force")


# --- Debug pages --------------------------------------------------------------------------------

DB_URL = "postgres://marketing:db-pass-7f3a@db.internal:5432/marketingai"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/hook-secret-91c2"
API_KEY = "sk-live-key-5d1e"
LLM_URL = "https://proxy-user:proxy-pass-22ab@llm.internal/v1"
REDIS = "redis://:redis-pass-0c9d@cache.internal:6379/0"


def test_the_technical_500_page_shows_no_secret_setting_or_environment_variable(settings):
    settings.DEBUG = True
    settings.MARKETINGAI_SLACK_WEBHOOK_URL = WEBHOOK
    settings.MARKETINGAI_LLM = {**settings.MARKETINGAI_LLM, "API_KEY": API_KEY, "BASE_URL": LLM_URL}
    settings.REDIS_URL = REDIS
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": REDIS}
    # runserver's WSGI environ carries the process environment into request.META
    request = RequestFactory().get(
        "/admin/",
        DATABASE_URL=DB_URL,
        MARKETINGAI_SLACK_WEBHOOK_URL=WEBHOOK,
        OPENAI_API_KEY=API_KEY,
        OPENAI_BASE_URL=LLM_URL,
    )
    html, text = render_error_pages(request)

    assert (
        "boom" in html and "MARKETINGAI_SLACK_WEBHOOK_URL" in html and "DATABASE_URL" in text
    )  # names stay
    for secret in (
        "db-pass-7f3a",
        "db.internal",
        "hook-secret-91c2",
        "hooks.slack.com",
        API_KEY,
        "proxy-pass-22ab",
        "redis-pass-0c9d",
    ):
        assert secret not in html and secret not in text, secret
    assert str(settings.DATABASES["default"]["NAME"]) not in html
