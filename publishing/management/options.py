"""What publishing's commands share: the run they name."""

from django.core.management.base import CommandError

from workflows.models import Run


def run_named(text: str) -> Run:
    """A run from its numeric id or its ``run_…`` id (whose last part is the numeric id)."""
    text = text.strip()
    number = text.rsplit("_", 1)[-1] if text.startswith("run_") else text
    run = Run.objects.with_related().filter(pk=int(number)).first() if number.isdigit() else None
    if run is None or (text.startswith("run_") and run.run_id != text):
        raise CommandError(f"No run {text!r}: give its number or its run_… id.")
    return run
