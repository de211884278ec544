from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from rollouts import services
from rollouts.models import Rollout
from workflows.management.options import acting_user, version_of, workflow_named

ACTIONS = ("status", "start", "advance", "pause", "resume", "abandon", "check")


class Command(BaseCommand):
    help = (
        "A workflow's staged rollout: status (stage, share, decision), start CANDIDATE, advance, "
        "pause, resume, abandon (each with --reason), check (the guardrail now). Promotion "
        "stays two-person: request and approve it on the rollout's page."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=ACTIONS)
        parser.add_argument("workflow", help="Workflow slug.")
        parser.add_argument("--candidate", help="start: the approved version to roll out, e.g. v9.")
        parser.add_argument("--reason", default="", help="Why (required for every move).")
        parser.add_argument(
            "--user", help="Username acting (needs rollouts.manage_rollout to move a rollout)."
        )

    def handle(self, *args, action, workflow, candidate=None, reason="", user=None, **options):
        workflow = workflow_named(workflow)
        try:
            if action == "start":
                if not candidate:
                    raise CommandError("start needs --candidate, e.g. --candidate v9.")
                rollout = services.rollout_start(
                    workflow=workflow,
                    candidate=version_of(workflow, candidate),
                    by=acting_user(user),
                    reason=reason,
                )
            else:
                rollout = self._rollout(workflow, open_only=action != "status")
                if action in ("advance", "pause", "resume", "abandon"):
                    move = getattr(services, f"rollout_{action}")
                    rollout = move(rollout=rollout, by=acting_user(user), reason=reason)
                elif action == "check":
                    breach = services.rollout_check_guardrails(rollout_id=rollout.pk)
                    self.stdout.write(breach.sentence if breach else "No guardrail breached.")
                    rollout.refresh_from_db()
        except (PermissionDenied, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", None) or [str(exc)])) from None
        self._status(rollout)

    def _rollout(self, workflow, *, open_only: bool) -> Rollout:
        rollouts = Rollout.objects.with_related().filter(workflow=workflow)
        rollout = (
            (rollouts.open() if open_only else rollouts).order_by("-created_at", "-pk").first()
        )
        if rollout is None:
            raise CommandError(f"{workflow.slug} has no {'open ' if open_only else ''}rollout.")
        return rollout

    def _status(self, rollout: Rollout) -> None:
        self.stdout.write(
            f"{rollout}: {rollout.get_status_display()} at {rollout.share_percent} "
            f"(baseline {rollout.baseline.label})."
        )
        for move in rollout.moves.select_related("moved_by").order_by("at", "pk"):
            self.stdout.write(
                f"  {move.at:%Y-%m-%d %H:%M} {move.from_stage or 'start'} -> {move.to_stage} "
                f"({float(move.share_after) * 100:g} %) by {move.mover_label}: {move.reason}"
            )
        self.stdout.write(services.rollout_assessment(rollout).sentence)
