"""Read-only questions about inputs, for other apps (which never import inputs' models)."""

from __future__ import annotations

from inputs.models import DataCheck


def data_check_routes_to_review(*, run_id: int) -> bool:
    """Whether the data check of the run asked for a person's review (False when no check ran)."""
    return DataCheck.objects.filter(run_id=run_id, route_to_review=True).exists()
