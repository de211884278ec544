"""The suppression list's one way in from outside publishing: addresses that asked to hear no more."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction

from publishing.models import SuppressedAddress
from workflows.lifecycle import with_history_context

REASON_LENGTH = SuppressedAddress._meta.get_field("reason").max_length


def addresses_suppress(*, addresses: Iterable[tuple[str, str]], by=None) -> int:
    """Add each ``(email, reason)`` to the suppression list unless it is there already.

    Returns how many addresses were added. Each addition writes a history row naming ``by``
    and the reason; an address already listed keeps its first reason.
    """
    wanted: dict[str, str] = {}
    for email, reason in addresses:
        email = (email or "").strip().lower()
        if email and "@" in email:
            wanted.setdefault(email, reason)
    if not wanted:
        return 0
    listed = set(
        SuppressedAddress.objects.filter(email__in=list(wanted)).values_list("email", flat=True)
    )
    added = 0
    for email, reason in wanted.items():
        if email in listed:
            continue
        address = SuppressedAddress(email=email, reason=reason[:REASON_LENGTH])
        with_history_context(address, by=by, reason=reason)
        try:
            with transaction.atomic():
                address.save()
        except IntegrityError:  # listed meanwhile by another writer
            continue
        added += 1
    return added
