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
        errors.append(checks.Error("No model is configured.", hint="Set MARKETINGAI_MODEL.", id="workflows.E003"))
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
                "The task timeout does not cover a run's generation budget plus one model call: "
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
                checks.Error(f"Workflow {workflow.slug} is misconfigured: {exc}", obj=workflow, id="workflows.E006")
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
            id="workflows.W020",
        )
    ]


def check_service_account_exists(app_configs=None, databases=None, **kwargs) -> list[checks.CheckMessage]:
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
                id="workflows.E020",
            )
        ]
    return []
