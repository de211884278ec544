from __future__ import annotations

import pytest

from tests.scripted_openai import Reply, ScriptedOpenAIServer

# Browser tests: the `chromium` and `page` fixtures, failure screenshots, the `browser` marker.
pytest_plugins = ["tests.browser"]

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
def valid_email():
    return dict(VALID_EMAIL)


@pytest.fixture
def reply():
    return Reply


@pytest.fixture
def service_account(db, settings):
    """The demo's service account, configured as the user commands without --user act as (as `make run` does)."""
    from django.contrib.auth import get_user_model

    from demo.users import DEMO_SERVICE_USER

    user, _ = get_user_model().objects.get_or_create(username=DEMO_SERVICE_USER)
    settings.MARKETINGAI_SERVICE_USER = DEMO_SERVICE_USER
    return user


def _load_workspace(*, judges: bool = False):
    """The demo; without judges unless asked, so scripted replies map one-to-one to generations."""
    from django.contrib.auth import get_user_model

    from demo.loader import load_demo
    from evals.models import EvalPolicy
    from workflows.models import Workflow

    load_demo(force=True)
    workflow = Workflow.objects.select_related("production_version").get(
        slug="trial_expiration_email"
    )
    if not judges:
        policy = EvalPolicy.objects.get(workflow=workflow)
        policy.judges = []
        policy.save()
    users = {u.username: u for u in get_user_model().objects.all()}
    return {"workflow": workflow, "brief": workflow.briefs.order_by("pk").first(), "users": users}


@pytest.fixture
def demo_workspace(db, service_account):
    """The whole demo: the trial expiration email workflow with its data contract and recipients."""
    return _load_workspace()


@pytest.fixture
def workspace(db, service_account):
    """The demo's workflow, prompts and registries, without recipient-level data: one generation per run.

    The contract keeps its registry checks (claims, legal, brand) and drops the audience ones.
    """
    from inputs.models import InputRequirement

    loaded = _load_workspace()
    InputRequirement.objects.filter(
        workflow=loaded["workflow"], input_name__in=["audience_segment", "product_usage_summary"]
    ).delete()
    return loaded
