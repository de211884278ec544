"""Every model of our apps keeps its history (django-simple-history), but the per-recipient rows."""

from __future__ import annotations

# One row per recipient (per import, per run): kept out of history for volume. Imports and runs are audited.
# Daily ad rows likewise: one row per ad per day per import (the imports are audited).
HISTORY_EXEMPT = {"inputs.Recipient", "inputs.RecipientAssignment", "analytics.AdDailyRow"}


def test_every_model_of_our_apps_carries_history_except_the_per_recipient_rows():
    from django.apps import apps

    missing = [
        model._meta.label
        for app in ("workflows", "evals", "inputs", "approvals", "triggers", "analytics")
        for model in apps.get_app_config(app).get_models()
        if not model.__name__.startswith("Historical")
        and not model._meta.proxy
        and not hasattr(model, "history")
    ]
    assert sorted(missing) == sorted(HISTORY_EXEMPT)
