"""Who acted: the named user, or else the operator-configured service account.

Commands and scheduled tasks act for somebody. A person is named with ``--user``; without
one, the service account named by ``MARKETINGAI_SERVICE_USER`` acts, so history, runs and
decisions never record nobody. The service account acts; it never approves or decides.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

SETTING = "MARKETINGAI_SERVICE_USER"


def service_username() -> str:
    return (getattr(settings, SETTING, "") or "").strip()


def service_user():
    """The configured service account; ImproperlyConfigured with one sentence when there is none to use."""
    name = service_username()
    if not name:
        raise ImproperlyConfigured(
            f"No user was named and no service account is configured: pass --user NAME, "
            f"or set {SETTING} to the username commands and schedules act as."
        )
    user = get_user_model().objects.filter(username=name).first()
    if user is None:
        raise ImproperlyConfigured(
            f"The service account {name!r} ({SETTING}) does not exist: create that user or pass --user NAME."
        )
    if not user.is_active:
        raise ImproperlyConfigured(
            f"The service account {name!r} ({SETTING}) is inactive: activate it or pass --user NAME."
        )
    return user


def service_user_or_none():
    """For scheduled tasks, which must go on: the service account, or None when there is none to use.

    An unconfigured account is reported by the system check workflows.W020; a configured one
    that cannot be used is logged here too.
    """
    if not service_username():
        return None
    try:
        return service_user()
    except ImproperlyConfigured as exc:
        logger.warning("%s History of this task names nobody.", exc)
        return None


def is_service_user(user) -> bool:
    name = service_username()
    return bool(name) and user is not None and user.get_username() == name


def service_user_refusal(user, *, what: str) -> str:
    """Why the service account may not do ``what`` (approve, decide), or ''."""
    if is_service_user(user):
        return (
            f"{user} is the service account ({SETTING}): it acts for commands and schedules, "
            f"but a person must {what}."
        )
    return ""
