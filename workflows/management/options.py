"""Helpers shared by management commands: the user, workflow and prompt version they name, and what a sweeper prints."""

import argparse
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError


def acting_user(username: str | None):
    """The user a command acts for (recorded in history): ``--user``, else the configured service account."""
    from workflows import identity

    if not username:
        try:
            return identity.service_user()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user {username!r}.")
    if not user.is_active:
        raise CommandError(f"The user {username!r} is inactive and cannot act.")
    return user


def workflow_named(slug: str):
    """The workflow with this slug (with its template and production version), or a CommandError naming the known ones."""
    from workflows.models import Workflow

    workflow = (
        Workflow.objects.select_related("prompt_template", "production_version")
        .filter(slug=slug)
        .first()
    )
    if workflow is None:
        known = (
            ", ".join(Workflow.objects.order_by("slug").values_list("slug", flat=True)) or "none"
        )
        raise CommandError(f"No workflow {slug!r}. Known workflows: {known}.")
    return workflow


def version_of(workflow, text: str):
    """A prompt version of the workflow from "v8", "8" or "trial_expiration_email:v8"."""
    number = text.rsplit(":", 1)[-1].lower().removeprefix("v")
    if not number.isdigit():
        raise CommandError(f"{text!r} is not a version: write it like v8.")
    version = workflow.prompt_template.versions.filter(version=int(number)).first()
    if version is None:
        raise CommandError(f"{workflow.prompt_template.slug} has no version v{number}.")
    return version


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number.") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is too small: give at least 1.")
    return value


def minutes(value: int | None) -> timedelta | None:
    """A ``--minutes`` option as a duration; None (the sweeper's default) when not given."""
    return timedelta(minutes=value) if value is not None else None


def write_swept(stdout, failed: list, *, noun: str) -> None:
    """What a stuck-job sweeper command prints: each row it failed and why, then how many."""
    for row in failed:
        stdout.write(f"{row}: failed ({row.error_detail})")
    stdout.write(f"{len(failed)} stuck {noun}(s) failed.")
