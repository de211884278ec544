from __future__ import annotations

import os

import pytest

from tests.support.scripted_openai import Reply, ScriptedOpenAIServer

# Browser tests: the `chromium` and `page` fixtures, failure screenshots, the `browser` marker.
pytest_plugins = ["tests.support.browser"]

# Processes the tests start (manage.py qcluster, ...) never read the demo's var/marketingai.env.
os.environ["MARKETINGAI_ENV_FILE"] = ""

# Markers of the tests a tier leaves to another (scripts/test.sh): "e2e browser server" on Postgres.
DESELECT_ENV = "MARKETINGAI_TEST_DESELECT"


@pytest.hookimpl(trylast=True)  # after the browser plugin has marked its tests
def pytest_collection_modifyitems(config, items):
    """Deselect the markers named in MARKETINGAI_TEST_DESELECT (whatever ``-m`` says), and run
    the end-to-end tests last: they are the slowest, and their model server wants the CPU."""
    markers = os.environ.get(DESELECT_ENV, "").split()
    if markers:
        left_out = [item for item in items if any(item.get_closest_marker(m) for m in markers)]
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = [item for item in items if item not in left_out]
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)  # stable


VALID_EMAIL = {
    "subject_lines": [
        "Your trial ends Friday",
        "Keep your boards running",
        "Three days left on trial",
    ],
    "preview_text": "Pick a plan to keep your dashboards and saved reports.",
    "email_body": "Hi there,\n\nYour trial ends in three days. Choose a plan to keep your work.\n\nThe team",
    "cta_text": "Choose a plan",
    "rationale": "Plain reminder grounded in the brief.",
    "risk_flags": [],
}


@pytest.fixture(scope="session")
def scripted_server():
    server = ScriptedOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def model_server(scripted_server, settings):
    """The scripted endpoint, configured as the run's model with short timeouts and quick retries."""
    scripted_server.reset()
    settings.MARKETINGAI_LLM = {
        **settings.MARKETINGAI_LLM,
        "BASE_URL": scripted_server.base_url,
        "API_KEY": "sk-test-placeholder-key-0001",
        "MODEL": "scripted-model",
        "FALLBACK_MODEL": "",
        "TIMEOUT_SECONDS": 1.0,
        "MAX_RETRIES": 1,
        "STRUCTURED_OUTPUT": "auto",
        "GENERATION_ATTEMPTS": 3,
        "RUN_BUDGET_SECONDS": 60,
        # Pushed replies are taken in order: one call at a time, unless a test asks for more.
        "CONCURRENCY": 1,
    }
    yield scripted_server
    scripted_server.reset()


def _reload_urlconf():
    import importlib
    import sys

    from django.conf import settings
    from django.urls import clear_url_caches

    clear_url_caches()
    if settings.ROOT_URLCONF in sys.modules:
        importlib.reload(sys.modules[settings.ROOT_URLCONF])


@pytest.fixture
def demo_cdp_on(settings):
    """The demo CDP switched on and routed: the URLconf reads MARKETINGAI_DEMO_CDP once, at import."""
    was = settings.MARKETINGAI_DEMO_CDP
    settings.MARKETINGAI_DEMO_CDP = True
    _reload_urlconf()
    yield
    settings.MARKETINGAI_DEMO_CDP = was
    _reload_urlconf()


@pytest.fixture
def demo_platforms_on(settings):
    """The demo platforms switched on and routed (the URLconf reads the setting once, at import)."""
    was = settings.MARKETINGAI_DEMO_PLATFORMS
    settings.MARKETINGAI_DEMO_PLATFORMS = True
    _reload_urlconf()
    yield
    settings.MARKETINGAI_DEMO_PLATFORMS = was
    _reload_urlconf()


@pytest.fixture
def valid_email():
    return dict(VALID_EMAIL)


@pytest.fixture
def reply():
    return Reply


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing():
    """Hash test passwords with a fast hasher: the real one takes a quarter of a second per user."""
    from django.test.utils import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def service_account(db, settings):
    """The service account, configured as the user commands without --user act as (as `make run` does)."""
    from tests.factories.users import ServiceAccountFactory

    user = ServiceAccountFactory()
    settings.MARKETINGAI_SERVICE_USER = user.username
    return user


@pytest.fixture
def workspace(db, service_account):
    """The email workflow ready to run: people, approved registries, the pinned prompt, a brief,
    evals and review routing; a data contract of the registries only, so one generation per run."""
    from tests.factories.workspace import workspace

    return workspace()


@pytest.fixture
def audience_workspace(db, service_account):
    """The workspace with the audience half of the data contract and the test audience:
    one generation per cohort (6) plus the generic one."""
    from tests.factories.workspace import workspace

    return workspace(audience_data=True)
