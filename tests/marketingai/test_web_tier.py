"""The web tier: `make serve` (gunicorn + WhiteNoise, DEBUG off), its deploy checks and its recipe."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from marketingai.checks import check_production_settings
from tests.support.cluster import subprocess_database_url, wait_until

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_DOC = ROOT / "docs" / "production.md"
VENV = Path(sys.executable).parent.parent


def production_env(tmp_path: Path) -> dict[str, str]:
    """A fresh host's environment: none of our variables, not under pytest (the production
    static storage, with its manifest), its own var directory."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MARKETINGAI_", "DJANGO_", "OPENAI_"))
        and k not in {"DATABASE_URL", "PYTEST_VERSION"}
    }
    env.update(
        MARKETINGAI_VAR_DIR=str(tmp_path / "var"),
        MARKETINGAI_ENV_FILE="",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def documented_production_settings() -> str:
    section = PRODUCTION_DOC.read_text().split("## 1. Settings and secrets", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def bash(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """The static files collected once, as `make serve` collects them (hashed, compressed)."""
    tmp = tmp_path_factory.mktemp("static")
    root = tmp / "static"
    result = bash(
        "exec python manage.py collectstatic --noinput -v 0",
        {**production_env(tmp), "MARKETINGAI_STATIC_ROOT": str(root)},
    )
    assert result.returncode == 0, result.stderr
    return root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


# --- check --deploy -------------------------------------------------------------------------------


def test_check_deploy_is_clean_with_the_settings_of_the_production_recipe(tmp_path, static_root):
    env = {**production_env(tmp_path), "MARKETINGAI_STATIC_ROOT": str(static_root)}
    script = documented_production_settings() + (
        "\nexec python manage.py check --deploy --fail-level WARNING"
    )

    result = bash(script, env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_stops_a_server_whose_static_files_are_not_collected(tmp_path):
    env = {**production_env(tmp_path), "MARKETINGAI_STATIC_ROOT": str(tmp_path / "empty")}

    result = bash(documented_production_settings() + "\nexec python manage.py check --deploy", env)

    assert result.returncode != 0
    assert "marketingai.E006" in result.stderr and "collectstatic" in result.stderr


def test_every_setting_read_from_the_environment_is_in_the_production_recipe():
    sources = (ROOT / "marketingai" / "settings.py").read_text() + (
        ROOT / "marketingai" / "gunicorn.conf.py"
    ).read_text()
    read = set(
        re.findall(
            r"""(?:environ\.get|env_(?:bool|int|float|list))\(\s*["'](MARKETINGAI_[A-Z0-9_]+)""",
            sources,
        )
    )
    read -= {"MARKETINGAI_TEST_DB_SUFFIX"}  # the test suite's own
    assert len(read) > 40
    doc = PRODUCTION_DOC.read_text()
    assert not sorted(name for name in read if f"`{name}`" not in doc)


def ids(settings_errors) -> set[str]:
    return {error.id for error in settings_errors}


PRODUCTION = {
    "ALLOWED_HOSTS": ["marketingai.example.com"],
    "CSRF_TRUSTED_ORIGINS": ["https://marketingai.example.com"],
    "MARKETINGAI_PUBLIC_URL": "https://marketingai.example.com",
    "SECRET_KEY_FROM_ENV": True,  # the recipe sets DJANGO_SECRET_KEY
}


def test_the_recipes_settings_pass_the_production_checks(settings):
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)

    assert check_production_settings() == []


@pytest.mark.parametrize(
    "change, check_id",
    [
        ({"ALLOWED_HOSTS": ["*"]}, "marketingai.E001"),
        ({"CSRF_TRUSTED_ORIGINS": ["http://marketingai.example.com"]}, "marketingai.E002"),
        ({"MARKETINGAI_PUBLIC_URL": "http://marketingai.example.com"}, "marketingai.E003"),
        ({"MARKETINGAI_PUBLIC_URL": "https://elsewhere.example.com"}, "marketingai.E004"),
        ({"IS_SQLITE": False, "SECRET_KEY_FROM_ENV": False}, "marketingai.E005"),
    ],
)
def test_an_insecure_or_inconsistent_production_setting_is_an_error(settings, change, check_id):
    for name, value in {**PRODUCTION, **change}.items():
        setattr(settings, name, value)

    assert ids(check_production_settings()) == {check_id}


def test_a_loopback_public_url_over_http_is_fine_for_a_local_server(settings):
    settings.SECRET_KEY_FROM_ENV = True
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.MARKETINGAI_PUBLIC_URL = "http://127.0.0.1:8000"

    assert check_production_settings() == []


# --- make serve: gunicorn + WhiteNoise, DEBUG off --------------------------------------------------


@pytest.fixture(scope="module")
def served(django_db_setup, tmp_path_factory, static_root, scripted_server):
    """scripts/serve.sh (what `make serve` runs) on a free loopback port, on the test database
    (migrated: its `migrate` finds nothing to do; these tests write nothing)."""
    tmp_path = tmp_path_factory.mktemp("serve")
    port = free_port()
    log = tmp_path / "serve.log"
    env = {
        **production_env(tmp_path),
        "VENV": str(VENV),
        "DATABASE_URL": subprocess_database_url(),
        "MARKETINGAI_STATIC_ROOT": str(static_root),
        "MARKETINGAI_BIND": f"127.0.0.1:{port}",
        "MARKETINGAI_DEBUG": "1",  # make serve turns it off whatever the environment says
        "WEB_CONCURRENCY": "1",
        "OPENAI_BASE_URL": scripted_server.base_url,
        "OPENAI_API_KEY": "sk-test-placeholder-key-0002",
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "serve.sh")],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # gunicorn and its workers in one group, stopped together
        )
    base = f"http://127.0.0.1:{port}"

    def answering():
        if process.poll() is not None:
            raise AssertionError(f"make serve exited: {log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        wait_until(answering, timeout=180, interval=0.5, what="gunicorn to listen")
        yield base, log
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.mark.server
def test_make_serve_serves_the_admin_with_its_styles_and_debug_off(served):
    base, log = served

    status, headers, page = fetch(f"{base}/admin/login/")
    assert status == 200, page[:500]
    stylesheets = re.findall(r'href="(/static/admin/css/[^"]+\.css)"', page.decode())
    assert "/static/admin/css/base.css" not in stylesheets  # the hashed names of the manifest
    assert any(re.fullmatch(r"/static/admin/css/base\.[0-9a-f]{12}\.css", s) for s in stylesheets)
    for stylesheet in stylesheets:
        status, headers, body = fetch(f"{base}{stylesheet}", **{"Accept-Encoding": "gzip"})
        assert status == 200, stylesheet
        assert headers["Content-Type"].startswith("text/css")
        assert "max-age=315360000" in headers["Cache-Control"]
        assert "immutable" in headers["Cache-Control"]
        assert headers.get("Content-Encoding") == "gzip"
        assert b"{" in gzip.decompress(body)

    status, _, body = fetch(f"{base}/no-such-page/")
    assert status == 404
    assert b"URLconf" not in body and b"DEBUG" not in body  # not the debug page

    log_text = log.read_text()
    assert "Starting gunicorn" in log_text and "Booting worker" in log_text
    assert f'"GET {stylesheets[0]} HTTP/1.1" 200' in log_text  # the access log, on stdout


@pytest.mark.server
def test_make_serve_answers_healthz_with_every_check_ok(served):
    base, _ = served

    status, headers, body = fetch(f"{base}/healthz")

    report = json.loads(body)
    assert status == 200, report
    assert headers["Content-Type"] == "application/json"
    assert report["status"] == "ok"
    assert {name: check["status"] for name, check in report["checks"].items()} == {
        "database": "ok",
        "broker": "ok",
        "model_endpoint": "ok",
    }
