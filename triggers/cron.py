"""Cron expressions read in an IANA time zone: their occurrences and their words.

Pure: no Django. Occurrences are computed by croniter on a time in the trigger's own zone, so
"0 7 * * 1" in Europe/Berlin is 07:00 Berlin time in winter (06:00 UTC) and in summer (05:00
UTC). In a spring-forward gap a time that does not exist runs at the first time after it; in a
fall-back overlap a time that occurs twice runs twice (croniter's reading).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cron_descriptor import ExpressionDescriptor, Options
from croniter import croniter

FIELDS = 5


def cron_problem(expression: str) -> str | None:
    """Why ``expression`` is not a five-field cron expression, in one sentence; None when it is."""
    expression = (expression or "").strip()
    if not expression:
        return "Give a cron expression, e.g. '0 7 * * 1' for Mondays at 07:00."
    if len(expression.split()) != FIELDS:
        return (
            f"{expression!r} has {len(expression.split())} fields: a cron expression has five "
            "(minute hour day-of-month month day-of-week), e.g. '0 7 * * 1'."
        )
    if not croniter.is_valid(expression):
        return f"{expression!r} is not a valid cron expression (minute hour day-of-month month day-of-week)."
    return None


def zone_problem(name: str) -> str | None:
    """Why ``name`` is not an IANA time zone (e.g. Europe/Berlin); None when it is."""
    try:
        ZoneInfo((name or "").strip())
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not an IANA time zone name, e.g. Europe/Berlin or UTC."
    return None


def describe(expression: str, time_zone: str) -> str:
    """The expression in words with its zone: 'At 07:00, only on Monday (Europe/Berlin)'."""
    options = Options()
    options.use_24hour_time_format = True
    try:
        words = ExpressionDescriptor(expression, options).get_description()
    except Exception:  # noqa: BLE001 - cron-descriptor raises several kinds for bad input
        words = expression
    return f"{words} ({time_zone})"


def next_occurrence(expression: str, time_zone: str, *, after: datetime) -> datetime:
    """The first occurrence strictly after ``after`` (aware), read in ``time_zone``; in UTC."""
    local = after.astimezone(ZoneInfo(time_zone))
    found = croniter(expression, local).get_next(datetime)
    return found.astimezone(timezone.utc)


def is_occurrence(expression: str, time_zone: str, at: datetime) -> bool:
    """Whether ``at`` (aware) is an occurrence of the expression read in ``time_zone``."""
    return next_occurrence(expression, time_zone, after=at - timedelta(seconds=1)) == at


def occurrences_between(
    expression: str, time_zone: str, *, start: datetime, end: datetime, limit: int = 1000
) -> list[datetime]:
    """Occurrences in ``[start, end]`` (aware), at most ``limit`` of them, in UTC."""
    found: list[datetime] = []
    at = start - timedelta(seconds=1)
    while len(found) < limit:
        at = next_occurrence(expression, time_zone, after=at)
        if at > end:
            break
        found.append(at)
    return found
