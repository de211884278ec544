"""System checks: misconfiguration is reported by `manage.py check`, not found at run time."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from workflows.llm import StructuredOutput


def check_model_endpoint(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    conf = settings.MARKETINGAI_LLM
    errors: list[checks.CheckMessage] = []
    parts = urlsplit(conf["BASE_URL"])
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        errors.append(
            checks.Error(
                f"OPENAI_BASE_URL {conf['BASE_URL']!r} is not an http(s) URL.",
                hint="Set it to the endpoint's base URL, e.g. https://api.openai.com/v1.",
                id="workflows.E001",
            )
        )
    if conf["STRUCTURED_OUTPUT"] not in StructuredOutput.CHOICES:
        errors.append(
            checks.Error(
                f"MARKETINGAI_STRUCTURED_OUTPUT is {conf['STRUCTURED_OUTPUT']!r}.",
                hint=f"Use one of: {', '.join(StructuredOutput.CHOICES)}.",
                id="workflows.E002",
            )
        )
    if not conf["MODEL"]:
        errors.append(
            checks.Error(
                "No model is configured.", hint="Set MARKETINGAI_MODEL.", id="workflows.E003"
            )
        )
    if conf["TIMEOUT_SECONDS"] <= 0 or conf["MAX_RETRIES"] < 0 or conf["GENERATION_ATTEMPTS"] < 1:
        errors.append(
            checks.Error(
                "Model timeout must be positive, retries non-negative and generation attempts at least 1.",
                id="workflows.E004",
            )
        )
    one_call = conf["TIMEOUT_SECONDS"] * (conf["MAX_RETRIES"] + 1)
    if settings.Q_CLUSTER["timeout"] <= conf["RUN_BUDGET_SECONDS"] + one_call:
        errors.append(
            checks.Warning(
                "The task timeout does not cover a run's budget (generations and judges) plus one model call: "
                "a slow run could be killed mid-generation.",
                hint="Raise MARKETINGAI_Q_TIMEOUT or lower MARKETINGAI_RUN_BUDGET_SECONDS.",
                id="workflows.W001",
            )
        )
    return errors


def check_task_cluster(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    if settings.IS_SQLITE and settings.Q_CLUSTER["workers"] > 4:
        return [
            checks.Warning(
                f"{settings.Q_CLUSTER['workers']} task workers on SQLite will contend for its single writer.",
                hint="Keep MARKETINGAI_Q_WORKERS at 4 or fewer on SQLite, or use Postgres (DATABASE_URL).",
                id="workflows.W002",
            )
        ]
    return []


def check_workflows(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
    from workflows.models import ArtifactStatus, Workflow

    if not databases:
        return []
    messages: list[checks.CheckMessage] = []
    try:
        workflows = list(Workflow.objects.select_related("production_version"))
    except DatabaseError:
        return []  # not migrated yet
    for workflow in workflows:
        pinned = workflow.production_version
        if pinned is None:
            messages.append(
                checks.Warning(
                    f"Workflow {workflow.slug} has no production prompt version: runs cannot start.",
                    hint="Pin an approved prompt version in the admin.",
                    obj=workflow,
                    id="workflows.W003",
                )
            )
        elif pinned.status != ArtifactStatus.APPROVED:
            messages.append(
                checks.Error(
                    f"Workflow {workflow.slug} serves {pinned.label}, which is {pinned.status}.",
                    hint="Pin an approved version.",
                    obj=workflow,
                    id="workflows.E005",
                )
            )
        try:
            workflow.clean()
        except Exception as exc:  # ValidationError with field messages
            messages.append(
                checks.Error(
                    f"Workflow {workflow.slug} is misconfigured: {exc}",
                    obj=workflow,
                    id="workflows.E006",
                )
            )
    return messages


def check_outbound(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """The outbound allow-list and the operator-named secrets (workflows.outbound, workflows.secrets)."""
    from workflows import outbound, secrets

    messages: list[checks.CheckMessage] = []
    for entry in settings.MARKETINGAI_OUTBOUND_ALLOWED_HOSTS:
        if outbound.parse_allow_entry(entry) is None:
            messages.append(
                checks.Error(
                    f"MARKETINGAI_OUTBOUND_ALLOWED_HOSTS entry {entry!r} is not host:port.",
                    hint="List exact host:port pairs, e.g. cdp.internal:8443 or [fd00::5]:443.",
                    id="workflows.E010",
                )
            )
    for name in secrets.configured_names():
        if name in secrets.RESERVED_NAMES:
            messages.append(
                checks.Error(
                    f"MARKETINGAI_SECRET_NAMES lists {name}, one of the server's own secrets; it is never sent out.",
                    hint="Give the outbound credential its own environment variable and list that name.",
                    id="workflows.E011",
                )
            )
        elif not secrets.NAME_PATTERN.match(name):
            messages.append(
                checks.Error(
                    f"MARKETINGAI_SECRET_NAMES lists {name!r}, which is not an environment variable name.",
                    id="workflows.E012",
                )
            )
    if (
        settings.MARKETINGAI_OUTBOUND_MAX_TIMEOUT <= 0
        or settings.MARKETINGAI_OUTBOUND_MAX_BYTES <= 0
    ):
        messages.append(
            checks.Error(
                "MARKETINGAI_OUTBOUND_MAX_TIMEOUT and MARKETINGAI_OUTBOUND_MAX_BYTES must be positive.",
                id="workflows.E013",
            )
        )
    webhook = settings.MARKETINGAI_SLACK_WEBHOOK_URL
    if webhook and (
        reason := outbound.static_refusal(webhook, label="MARKETINGAI_SLACK_WEBHOOK_URL")
    ):
        messages.append(checks.Error(reason, id="workflows.E014"))
    return messages


def _check_request():
    """A request with nobody logged in, for asking admins what their change page shows."""
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    request = HttpRequest()
    request.user = AnonymousUser()
    return request


def check_admin_history(app_configs=None, site=None, **kwargs) -> list[checks.CheckMessage]:
    """Every history admin guards its revert form, and no fieldsets silently drop an editable field."""
    from django.contrib import admin
    from django.contrib.admin.utils import flatten_fieldsets
    from simple_history.admin import SimpleHistoryAdmin

    from workflows.admin_history import GuardedHistoryAdmin

    messages: list[checks.CheckMessage] = []
    for model, model_admin in (site or admin.site)._registry.items():
        name = type(model_admin).__name__
        if isinstance(model_admin, SimpleHistoryAdmin) and not isinstance(
            model_admin, GuardedHistoryAdmin
        ):
            messages.append(
                checks.Error(
                    f"{name} uses SimpleHistoryAdmin, whose revert form saves for anyone who may view {model._meta.label}.",
                    hint="Subclass workflows.admin_history.GuardedHistoryAdmin instead.",
                    obj=type(model_admin),
                    id="workflows.E020",
                )
            )
        if model_admin.fieldsets or getattr(model_admin, "sections", None):
            # The fieldsets a change page really shows: the declared ones, or those composed from the
            # kernel's sections and the apps' contributions (workflows.admin_extensions).
            request = _check_request()
            composed = bool(getattr(model_admin, "sections", None))
            fieldsets = (
                model_admin.get_fieldsets(request, None) if composed else model_admin.fieldsets
            )
            readonly = (
                model_admin.get_readonly_fields(request, None)
                if composed
                else model_admin.readonly_fields
            )
            shown = (
                set(flatten_fieldsets(fieldsets)) | set(readonly) | set(model_admin.exclude or ())
            )
            dropped = [
                f.name
                for f in model._meta.concrete_fields
                if f.editable and not f.primary_key and f.name not in shown
            ]
            if dropped:
                messages.append(
                    checks.Warning(
                        f"{name}'s fieldsets leave out {', '.join(dropped)} of {model._meta.label}: nobody can edit them.",
                        hint="List them in a fieldset, or in exclude if that is meant.",
                        obj=type(model_admin),
                        id="workflows.W020",
                    )
                )
    return messages


def check_deploy_secrets_and_demo(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Deploy checks (`check --deploy`): a production key from the environment, and no demo."""
    messages: list[checks.CheckMessage] = []
    if not getattr(settings, "SECRET_KEY_FROM_ENV", True):
        messages.append(
            checks.Warning(
                "DJANGO_SECRET_KEY is not set: the key generated into the var directory signs sessions.",
                hint="Set DJANGO_SECRET_KEY to a long random value kept in your secret store, the same on every host.",
                id="workflows.W010",
            )
        )
    if (
        settings.MARKETINGAI_DEMO
        or settings.MARKETINGAI_DEMO_CDP
        or getattr(settings, "MARKETINGAI_DEMO_PLATFORMS", False)
    ):
        messages.append(
            checks.Warning(
                "The demo is on: load_demo creates users with published passwords, /demo-cdp/ serves made-up "
                "recipients and /demo-platforms/ takes in what the demo publishes.",
                hint="Unset MARKETINGAI_DEMO, MARKETINGAI_DEMO_CDP and MARKETINGAI_DEMO_PLATFORMS outside a local demo.",
                id="workflows.W011",
            )
        )
    return messages


def check_service_account_configured(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Commands without --user and scheduled tasks act as the service account: say when there is none."""
    from workflows import identity

    if identity.service_username():
        return []
    return [
        checks.Warning(
            f"No service account is configured ({identity.SETTING}): commands refuse to act without --user, "
            "and scheduled tasks record nobody in history.",
            hint=f"Create a dedicated user (no roles, no password) and set {identity.SETTING} to its username.",
            id="workflows.W030",
        )
    ]


def check_service_account_exists(
    app_configs=None, databases=None, **kwargs
) -> list[checks.CheckMessage]:
    from django.contrib.auth import get_user_model

    from workflows import identity

    name = identity.service_username()
    if not name or not databases:
        return []
    try:
        user = get_user_model().objects.filter(username=name).first()
    except DatabaseError:
        return []  # not migrated yet
    if user is None or not user.is_active:
        return [
            checks.Error(
                f"The service account {name!r} ({identity.SETTING}) {'does not exist' if user is None else 'is inactive'}.",
                hint="Create (or activate) that user, or set the variable to an existing username.",
                id="workflows.E030",
            )
        ]
    return []


def check_lifecycles(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every stateful model's transition table, initial statuses and status constraint match its Status."""
    from workflows import lifecycle

    return [
        checks.Error(
            problem,
            hint="See workflows/lifecycle.py for what a stateful model declares.",
            obj=model,
            id="workflows.E040",
        )
        for model in lifecycle.lifecycle_models()
        for problem in lifecycle.declaration_problems(model)
    ]
