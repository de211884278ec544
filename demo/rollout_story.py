"""The rollout story: candidate v10 of the trial email from shadow mode to production, told step by step.

Every move goes through the services the admin uses, as the demo user who may make it: ``manager``
starts, advances and resumes the rollout (rollouts.manage_rollout) and presses Publish; ``ops``
starts the runs and requests the promotion; the reviewer of each run's queue approves it; the demo
email platform posts its signed events to measurement's webhook over HTTP; the guardrail (the task
cluster, or the same check run here when no cluster answers) pauses the ramp; ``manager``
approves the promotion as the second person. See docs/rollout-demo.md.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from approvals.models import ApprovalItem
from approvals.services.decisions import item_decide
from demo.cdp import FIRST_NAMES, PLANS, ROLES, USAGE
from demo.models import OutboxMessage
from demo.platforms.email_events import EventRates, events_post
from evals.models import EvalDataset, EvalSuiteRun
from evals.services import dataset_import, suite_execute, suite_start
from evals.services.promotion import promotion_basis
from inputs.imports import audience_import
from inputs.models import AudienceImport
from measurement.events import EventIn
from measurement.models import EventWebhook
from measurement.selectors import totals
from measurement.services import events_ingest
from publishing.models import PublishAttempt
from publishing.services import PublishRefused, run_deliver, run_publish
from rollouts import decision
from rollouts import services as rollouts
from rollouts.models import PairPreference, Rollout, RolloutNotice, RolloutStage
from workflows import secrets
from workflows import services as run_services
from workflows.models import AudienceSegment, CampaignBrief, PromptVersion, Run, Workflow

WORKFLOW_SLUG = "trial_expiration_email"
CANDIDATE_VERSION = 10
SEGMENT_SLUG = "trial_ending_3_days"
EVENT_WEBHOOK_NAME = "Demo email platform events"
EVENT_KEY_NAME = "MARKETINGAI_DEMO_EVENT_WEBHOOK_KEY"
EVENT_SOURCE = "sendgrid"
UPGRADE_SOURCE = "billing"
SAMPLE_DATASET = "Rollout story sample"
SAMPLE_SIZE = 12
DATASET_FILE = Path(__file__).resolve().parent / "data" / "trial_expiration_briefs.json"
REVIEWER_OF_TEAM = {
    "legal": "legal",
    "brand": "brand",
    "lifecycle_marketing": "lifecycle",
    "product_marketing": "product",
}
OPTED_OUT_SHARE = 0.01
# Readers whose events (and upgrades) are reported together.
REPORT_SLICE = 500


@dataclass(frozen=True)
class ArmRates:
    """What the simulated readers of one arm do: the email platform's events, and upgrades."""

    email: EventRates
    upgraded: float


# Chosen so the story is visible at a few thousand recipients: the candidate unsubscribes fewer
# readers and upgrades more of them, except in the one bad batch.
HEALTHY = {
    decision.PRODUCTION: ArmRates(
        EventRates(opened=0.42, clicked=0.06, unsubscribed=0.0045, complained=0.0005),
        upgraded=0.028,
    ),
    decision.CANDIDATE: ArmRates(
        EventRates(opened=0.46, clicked=0.08, unsubscribed=0.0015, complained=0.0005),
        upgraded=0.042,
    ),
}
BAD_CANDIDATE = ArmRates(
    EventRates(opened=0.40, clicked=0.05, unsubscribed=0.04, complained=0.002), upgraded=0.03
)


class StoryRefused(Exception):
    """The story cannot run (or go on) here; the message says why and what to do."""


@dataclass
class StoryResult:
    rollout: Rollout
    stages: list[str] = field(default_factory=list)
    pause_statistic: dict = field(default_factory=dict)
    decision_sentence: str = ""
    pairs: list[tuple[int, int]] = field(default_factory=list)


def admin_base_url() -> str:
    """The running admin (it serves the demo platforms and measurement's webhook)."""
    return f"http://127.0.0.1:{os.environ.get('MARKETINGAI_ADMIN_PORT', '8000')}"


def story_recipients(count: int, *, seed: int, now: datetime) -> list[dict]:
    """``count`` made-up trial readers in the recipient file's shape, the same for a seed."""
    rng = random.Random(f"rollout-story:{seed}")
    records = []
    for number in range(1, count + 1):
        tier = "high" if rng.random() < 0.55 else "low"
        summary = rng.choice(USAGE[tier]).format(
            boards=rng.randint(2, 9), seats=rng.randint(1, 6), reports=rng.randint(3, 20)
        )
        records.append(
            {
                "customer_id": f"story_{seed}_{number:05d}",
                "email": f"{rng.choice(FIRST_NAMES)}.story{seed}.{number:05d}@example.com",
                "consent": "opted_out" if rng.random() < OPTED_OUT_SHARE else "opted_in",
                "role": rng.choice(ROLES),
                "plan": rng.choice(PLANS),
                "usage_summary": summary,
                "usage_as_of": (now - timedelta(hours=rng.uniform(0.5, 4))).isoformat(),
                "usage_tier": tier,
            }
        )
    return records


def _percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.2f} %"


def _points(value: float) -> str:
    return f"{value * 100:+.2f}"


def _admin_path(name: str, *args) -> str:
    try:
        return reverse(f"admin:{name}", args=args)
    except NoReverseMatch:
        return ""


class RolloutStory:
    """Tell the story once; ``run()`` returns what happened or raises ``StoryRefused``."""

    def __init__(
        self,
        *,
        seed: int = 1,
        recipients: int = 6000,
        shadow_runs: int = 2,
        wait_seconds: float = 60.0,
        say: Callable[[str], None] = print,
    ) -> None:
        if recipients < 1000:
            raise StoryRefused("The statistics need thousands of recipients: give at least 1,000.")
        self.seed = seed
        self.recipients = recipients
        self.shadow_runs = shadow_runs
        self.wait_seconds = wait_seconds
        self.say = say
        self.step = 0
        self.cluster_answers = True

    # --- telling ---------------------------------------------------------------------------------

    def heading(self, text: str) -> None:
        self.step += 1
        self.say("")
        self.say(f"{self.step}. {text}")

    def line(self, text: str) -> None:
        self.say(f"   {text}")

    # --- the story -------------------------------------------------------------------------------

    def run(self) -> StoryResult:
        self._preflight()
        self._audience()
        rollout = self._offline_evals()
        result = StoryResult(rollout=rollout)
        self._shadow(rollout, result)
        self._audience_test(rollout)
        result.pause_statistic = self._ramp_until_the_guardrail(rollout)
        self._resume_to_everyone(rollout)
        result.decision_sentence = self._promotion(rollout)
        rollout.refresh_from_db()
        result.rollout = rollout
        result.stages = list(rollout.moves.order_by("at", "pk").values_list("to_stage", flat=True))
        self._where_to_look(rollout, result)
        return result

    def _preflight(self) -> None:
        if not (settings.MARKETINGAI_DEMO and settings.MARKETINGAI_DEMO_PLATFORMS):
            raise StoryRefused(
                "The rollout story needs the demo and its platforms (MARKETINGAI_DEMO=1, as make run sets)."
            )
        self.workflow = Workflow.objects.filter(slug=WORKFLOW_SLUG).first()
        if self.workflow is None:
            raise StoryRefused("The demo is not loaded: run `manage.py load_demo` (make run does).")
        self.candidate = PromptVersion.objects.filter(
            template=self.workflow.prompt_template, version=CANDIDATE_VERSION
        ).first()
        if self.candidate is None:
            raise StoryRefused(f"The demo has no candidate v{CANDIDATE_VERSION}: run load_demo.")
        earlier = Rollout.objects.filter(workflow=self.workflow, candidate=self.candidate).first()
        if earlier is not None:
            raise StoryRefused(
                f"The story already ran on this database: rollout {earlier.pk} of "
                f"{self.candidate.label} is {earlier.get_status_display().lower()}. It runs once "
                "per demo database (start again from a fresh one: remove var/marketingai.sqlite3, "
                "then make run)."
            )
        if self.workflow.production_version_id == self.candidate.pk:
            raise StoryRefused(f"{self.candidate.label} already serves production.")
        if not secrets.is_allowed(EVENT_KEY_NAME) or not os.environ.get(EVENT_KEY_NAME):
            raise StoryRefused(
                f"{EVENT_KEY_NAME} is not set: start the demo with make run (it sets the demo "
                "email platform's event-signing key for the admin and for this shell)."
            )
        User = get_user_model()
        names = ["ops", "manager", *REVIEWER_OF_TEAM.values()]
        self.users = {u.username: u for u in User.objects.filter(username__in=names)}
        missing = sorted(set(names) - set(self.users))
        if missing:
            raise StoryRefused(f"The demo users {', '.join(missing)} are missing: run load_demo.")
        self.brief = (
            CampaignBrief.objects.filter(
                workflow=self.workflow, audience_segment__slug=SEGMENT_SLUG
            )
            .order_by("pk")
            .first()
        )
        if self.brief is None:
            raise StoryRefused(f"{WORKFLOW_SLUG} has no brief for {SEGMENT_SLUG}: run load_demo.")
        self.hook = EventWebhook.objects.filter(name=EVENT_WEBHOOK_NAME).first()
        if self.hook is None:
            self.hook = EventWebhook(
                name=EVENT_WEBHOOK_NAME, source=EVENT_SOURCE, verification_key_name=EVENT_KEY_NAME
            )
            self.hook.full_clean()
            self.hook.save()
        self.events_url = admin_base_url() + self.hook.get_absolute_url()
        self.say(
            f"The rollout of {self.candidate.label} on {self.workflow.name} "
            f"(production: {self.workflow.production_version.label}), seed {self.seed}."
        )
        self.say(f"The demo email platform posts signed events to {self.events_url}")

    def _audience(self) -> None:
        self.heading(f"ops imports {self.recipients:,} trial readers (deterministic by seed)")
        segment = AudienceSegment.objects.get(slug=SEGMENT_SLUG)
        records = story_recipients(self.recipients, seed=self.seed, now=timezone.now())
        imported = audience_import(
            segment=segment,
            data=json.dumps({"recipients": records}).encode(),
            filename=f"rollout story readers (seed {self.seed})",
            format="json",
            imported_by=self.users["ops"],
        )
        if imported.status != AudienceImport.Status.IMPORTED:
            raise StoryRefused(f"The story's readers did not import: {imported.errors[:3]}")
        opted_out = sum(r["consent"] == "opted_out" for r in records)
        self.line(
            f"{segment.name}: {imported.row_count:,} recipients, {opted_out} of them opted out "
            "(never sent to)."
        )

    def _offline_evals(self) -> Rollout:
        self.heading(f"Offline evals: {self.candidate.label} against production")
        suite, problem = promotion_basis(workflow=self.workflow, version=self.candidate)
        if problem:
            self.line(f"No winning suite yet ({problem}) — ops runs one on {SAMPLE_SIZE} briefs.")
            suite = self._run_suite()
        self.line(
            f"{suite.label}: {suite.get_decision_display()} — {'; '.join(suite.decision_reasons[:2])}"
        )
        manager = self.users["manager"]
        rollout = rollouts.rollout_start(
            workflow=self.workflow,
            candidate=self.candidate,
            by=manager,
            reason="Shorter email; its suite says promote",
        )
        self.line(f"manager starts rollout {rollout.pk}: {rollout.get_status_display()}.")
        for reason in (
            f"{suite.label} says promote",
            "Reviewers read the candidate's drafts in the suite report",
        ):
            rollout = self._advance(rollout, reason)
        return rollout

    def _run_suite(self) -> EvalSuiteRun:
        ops = self.users["ops"]
        dataset = EvalDataset.objects.filter(workflow=self.workflow, name=SAMPLE_DATASET).first()
        if dataset is None:
            items = json.loads(DATASET_FILE.read_text(encoding="utf-8"))["items"][:SAMPLE_SIZE]
            imported = dataset_import(
                workflow=self.workflow,
                name=SAMPLE_DATASET,
                data=json.dumps({"items": items}).encode(),
                filename="rollout story sample",
                format="json",
                imported_by=ops,
                description=f"The first {SAMPLE_SIZE} historical briefs, for the rollout story.",
            )
            if not imported.ok:
                raise StoryRefused(f"The sample dataset did not import: {imported.errors[:3]}")
            dataset = imported.dataset
        suite = suite_start(
            workflow=self.workflow,
            candidate=self.candidate,
            started_by=ops,
            dataset=dataset,
            seed=self.seed,
            concurrency=1,
            enqueue=False,
        )
        suite = suite_execute(suite_id=suite.pk)
        if suite.decision != EvalSuiteRun.Decision.PROMOTE:
            raise StoryRefused(
                f"{suite.label} says {suite.get_decision_display() or suite.status}: "
                f"{'; '.join(suite.decision_reasons or [suite.error_detail])}. The rollout cannot start."
            )
        return suite

    def _advance(self, rollout: Rollout, reason: str) -> Rollout:
        rollout = rollouts.rollout_advance(rollout=rollout, by=self.users["manager"], reason=reason)
        share = f" — candidate share {rollout.share_percent}" if rollout.share else ""
        self.line(f"manager advances: {rollout.get_status_display()}{share} ({reason}).")
        return rollout

    # --- runs ------------------------------------------------------------------------------------

    def _pair(self) -> tuple[Run, Run | None]:
        """ops starts a production run; the rollout adds its candidate companion; both execute."""
        production = run_services.run_start(
            workflow=self.workflow, brief=self.brief, started_by=self.users["ops"], enqueue=False
        )
        production.refresh_from_db()
        companion_pk = production.rollout.get("companion")
        production = run_services.run_execute(run_id=production.pk)
        companion = run_services.run_execute(run_id=companion_pk) if companion_pk else None
        for run in (production, companion):
            if run is not None:
                self.line(
                    f"{run.run_id} ({run.prompt_version.label}, {run.rollout.get('arm', 'production')} arm): "
                    f"{run.get_status_display().lower()}"
                    + (f", risk {run.risk_level}" if getattr(run, "risk_level", "") else "")
                )
        return production, companion

    def _approve(self, run: Run) -> None:
        item = ApprovalItem.objects.open().filter(run=run).select_related("team").first()
        if item is None:
            raise StoryRefused(f"{run.run_id} is {run.status}: it is not waiting for review.")
        reviewer = self.users[REVIEWER_OF_TEAM.get(item.team.slug, "lifecycle")]
        item_decide(
            item_id=item.pk,
            decision="approve",
            reviewer=reviewer,
            note="Rollout story: the copy keeps to the approved claims.",
        )
        self.line(f"{reviewer} approves {run.run_id} from the {item.team} queue.")

    def _publish(self, run: Run) -> list[OutboxMessage]:
        """manager presses Publish (the email is high risk); the task cluster delivers, as for
        `publish_run`. Without a cluster the story delivers here, as `publish_run --sync` does."""
        try:
            run_publish(run=run, user=self.users["manager"], reason="Rollout story")
        except PublishRefused as exc:
            self.line(f"Publish refused: {exc.message}")
            return []
        if not self._delivered_by_cluster(run):
            self.line("No task cluster delivered it: delivering here (as publish_run --sync).")
            run_deliver(run_id=run.pk)
        keys = PublishAttempt.objects.filter(run=run).values_list("idempotency_key", flat=True)
        messages = list(
            OutboxMessage.objects.filter(platform=OutboxMessage.Platform.EMAIL)
            .filter(idempotency_key__in=list(keys))
            .order_by("pk")
        )
        when = messages[0].scheduled_for if messages else None
        self.line(
            f"manager publishes {run.run_id}: {len(messages):,} emails"
            + (f", scheduled for {when:%Y-%m-%d %H:%M} UTC" if when else "")
        )
        return messages

    def _delivered_by_cluster(self, run: Run) -> bool:
        """Wait for the run's attempts to leave pending and sending (once no cluster answered
        in time, the story stops waiting for it)."""
        unsent = PublishAttempt.objects.filter(
            run=run, status__in=[PublishAttempt.Status.PENDING, PublishAttempt.Status.SENDING]
        )
        deadline = time.monotonic() + (self.wait_seconds if self.cluster_answers else 0)
        while unsent.exists():
            if time.monotonic() >= deadline:
                self.cluster_answers = False
                return False
            time.sleep(0.5)
        return True

    def _live_pair(self, rollout: Rollout, rates: dict[str, ArmRates]) -> dict[str, list]:
        production, companion = self._pair()
        sent = {}
        for arm, run in ((decision.PRODUCTION, production), (decision.CANDIDATE, companion)):
            self._approve(run)
            # The approval publishes the chat post and blog draft; Publish waits until they are
            # out, so one delivery of the run runs at a time.
            if not self._delivered_by_cluster(run):
                run_deliver(run_id=run.pk)
            sent[arm] = self._publish(Run.objects.get(pk=run.pk))
        self._events(sent, rates)
        return sent

    # --- events ----------------------------------------------------------------------------------

    def _events(self, sent: dict[str, list], rates: dict[str, ArmRates]) -> None:
        """Billing reports which readers upgraded and the platform what they did after the send,
        a slice of readers at a time, so the guardrail's looks see both arms as they stand."""
        for arm in (decision.PRODUCTION, decision.CANDIDATE):
            messages = sent.get(arm) or []
            if not messages:
                continue
            latest = max(m.scheduled_for or m.received_at for m in messages)
            reported_at = max(timezone.now(), latest + timedelta(days=2))
            shown = list(
                OutboxMessage.objects.filter(pk__in=[m.pk for m in messages])
                .with_status_now(now=reported_at)
                .order_by("pk")
            )
            posts = stored = upgraded = 0
            for start in range(0, len(shown), REPORT_SLICE):
                readers = shown[start : start + REPORT_SLICE]
                # Billing's report of the slice first: sends counted before their upgrades
                # would look, for a moment, like readers who did not upgrade.
                upgraded += events_ingest(
                    events=self._upgrades(readers, rates[arm].upgraded),
                    source=UPGRADE_SOURCE,
                    source_name="demo billing: upgrades",
                ).stored
                answers = events_post(
                    messages=readers,
                    url=self.events_url,
                    rates=rates[arm].email,
                    seed=self.seed,
                    now=reported_at,
                )
                refused = [a["error"] for a in answers if "error" in a]
                if refused:
                    raise StoryRefused(
                        f"The events webhook refused the platform's post: {refused[0]}"
                    )
                posts += len(answers)
                stored += sum(a.get("stored", 0) for a in answers)
            self.line(
                f"{arm} arm: the email platform posts {stored:,} signed events in {posts} "
                f"batches; billing reports {upgraded} upgrades."
            )

    def _upgrades(self, messages: list, rate: float) -> list[EventIn]:
        """Which delivered readers upgraded (deterministic by seed), as converted events."""
        events = []
        for message in messages:
            if getattr(message, "status_now", message.status) != OutboxMessage.Status.DELIVERED:
                continue
            chance = random.Random(f"{self.seed}:upgrade:{message.pk}")
            if chance.random() >= rate:
                continue
            sent_at = message.scheduled_for or message.received_at
            events.append(
                EventIn(
                    event_id=f"upgrade-{message.idempotency_key}-{message.customer_id}",
                    kind="converted",
                    occurred_at=sent_at + timedelta(hours=chance.uniform(1, 40)),
                    recipient=message.customer_id,
                    key=message.idempotency_key,
                    variant=message.variant_key,
                )
            )
        return events

    def _arms(self, rollout: Rollout) -> str:
        parts = []
        for arm in (decision.CANDIDATE, decision.PRODUCTION):
            since = rollout.stage_entered_at if rollout.status in decision.LIVE_STAGES else None
            runs = rollouts.arm_runs(
                rollout, arm, stage=rollouts.measured_stage(rollout), since=since
            )
            t = totals(run_ids=runs)
            unsub = t.unsubscribed / t.delivered if t.delivered else None
            upgrade = t.converted / t.delivered if t.delivered else None
            parts.append(
                f"{arm} {t.delivered:,} delivered, unsubscribe {_percent(unsub)}, "
                f"upgrade {_percent(upgrade)}"
            )
        return "; ".join(parts)

    # --- the stages ------------------------------------------------------------------------------

    def _shadow(self, rollout: Rollout, result: StoryResult) -> None:
        self.heading("Shadow mode: each production run also generates the candidate (never sent)")
        for _ in range(self.shadow_runs):
            production, companion = self._pair()
            self._approve(production)
            result.pairs.append((production.pk, companion.pk))
            judged = rollouts.rollout_judge_pair(candidate_run_id=companion.pk)
            if judged is not None:
                self.line(
                    f"The blind judge sees the candidate as {judged.candidate_label} and picks "
                    f"{judged.pick}: {judged.preferred}."
                )
            shown = rollouts.candidate_shown_as(companion.pk)
            picked = rollouts.rollout_pick_pair(
                candidate_run=companion, by=self.users["lifecycle"], pick=shown
            )
            self.line(
                f"lifecycle compares A and B side by side and picks {picked.pick}: {picked.preferred}."
            )
        self.line(
            "The production runs are approved as usual; their email waits for Publish (the story "
            "leaves it)."
        )

    def _audience_test(self, rollout: Rollout) -> None:
        self.heading(
            "Audience test: 10 % of the readers, chosen by a stable hash, get the candidate"
        )
        rollout = self._advance(
            rollout, "Shadow outputs pass their checks; judge and reviewer prefer it"
        )
        self._live_pair(rollout, HEALTHY)
        rollout.refresh_from_db()
        self.line(f"So far: {self._arms(rollout)}.")

    def _ramp_until_the_guardrail(self, rollout: Rollout) -> dict:
        self.heading("Controlled production: the ramp, checked as events arrive")
        rollout = self._advance(rollout, "The audience test shows no harm")
        self._live_pair(rollout, HEALTHY)
        self._still_live(rollout)
        rollout = self._advance(rollout, "Healthy at 25 %")
        self.line("This batch goes wrong: the candidate's readers unsubscribe far more often.")
        self._live_pair(rollout, {**HEALTHY, decision.CANDIDATE: BAD_CANDIDATE})
        rollout = self._await_pause(rollout)
        move = rollout.moves.filter(to_stage=RolloutStage.PAUSED).latest("at")
        self.line(f"Stage log: {move.reason}")
        statistic = move.statistic
        self.line(
            f"Recorded: {statistic.get('method')}; difference {_points(statistic['difference'])} "
            f"points, interval [{_points(statistic['lower'])}, {_points(statistic['upper'])}] at "
            f"{statistic['confidence'] * 100:g} %, margin {statistic['margin'] * 100:.2f} points."
        )
        self.line(
            f"Share now {rollout.share_percent}: runs started from now on are production only."
        )
        notice = self._notice(rollout)
        if notice is not None:
            self.line(
                f"Notice {notice.get_outcome_display().lower()} to {', '.join(notice.recipients)}: "
                f"{notice.subject}"
            )
        else:
            self.line("The notice is queued for the task cluster (it emails the managers).")
        return statistic

    def _notice(self, rollout: Rollout) -> RolloutNotice | None:
        deadline = time.monotonic() + (self.wait_seconds if self.cluster_answers else 0)
        while (notice := RolloutNotice.objects.filter(rollout=rollout).first()) is None:
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.5)
        return notice

    def _await_pause(self, rollout: Rollout) -> Rollout:
        deadline = time.monotonic() + (self.wait_seconds if self.cluster_answers else 0)
        while True:
            rollout.refresh_from_db()
            if rollout.status == RolloutStage.PAUSED:
                self.line("The guardrail paused the ramp as the events arrived.")
                return rollout
            if time.monotonic() >= deadline:
                break
            time.sleep(1)
        self.line(
            "No task cluster checked yet: running the guardrail check the cluster runs "
            "(rollouts_watch's backstop)."
        )
        if rollouts.rollout_check_guardrails(rollout_id=rollout.pk) is None:
            raise StoryRefused(f"The guardrail did not breach: {self._arms(rollout)}.")
        rollout.refresh_from_db()
        return rollout

    def _resume_to_everyone(self, rollout: Rollout) -> None:
        self.heading("Resume: healthy batches up to 100 %")
        rollout = rollouts.rollout_resume(
            rollout=rollout,
            by=self.users["manager"],
            reason="The spike came from a mislabelled import batch, not the copy; data restarts",
        )
        self.line(f"manager resumes: {rollout.get_status_display()} at {rollout.share_percent}.")
        self._live_pair(rollout, HEALTHY)
        self._still_live(rollout)
        for reason in ("Healthy at 25 %", "Healthy at 50 %"):
            rollout = self._advance(rollout, reason)
            self._live_pair(rollout, HEALTHY)
            self._still_live(rollout)
        rollout.refresh_from_db()
        self.line(f"Since the resume: {self._arms(rollout)}.")

    def _still_live(self, rollout: Rollout) -> None:
        rollout.refresh_from_db()
        if rollout.status not in decision.LIVE_STAGES:
            last = rollout.moves.order_by("at", "pk").last()
            raise StoryRefused(f"The rollout is {rollout.status} again: {last.reason}")

    def _promotion(self, rollout: Rollout) -> str:
        self.heading("The promotion decision")
        rollout.refresh_from_db()
        assessment = rollouts.rollout_assessment(rollout)
        for row in assessment.rows:
            interval = (
                f"[{_points(row.interval[0])}, {_points(row.interval[1])}]" if row.interval else "—"
            )
            needed = f"{row.sends_needed:,}" if row.sends_needed is not None else "none"
            self.line(
                f"{row.label}: candidate {_percent(row.candidate_rate)} vs production "
                f"{_percent(row.production_rate)}, difference "
                f"{_points(row.difference) if row.difference is not None else '—'} points, interval "
                f"{interval}, margin {row.margin * 100:.2f} points -> {row.verdict}; more sends "
                f"needed: {needed}."
            )
        self.line(assessment.sentence)
        if assessment.decision != decision.PROMOTE:
            raise StoryRefused(f"Not promoted: {assessment.sentence}")
        rollout = rollouts.rollout_request_promotion(
            rollout=rollout, by=self.users["ops"], note="Healthy at 100 % since the resume."
        )
        self.line(f"ops requests the promotion (request {rollout.promotion_request_id}).")
        rollout = rollouts.rollout_promote(
            rollout=rollout, by=self.users["manager"], note="The ramp's statistics hold"
        )
        self.workflow.refresh_from_db()
        self.line(
            f"manager approves it as the second person: {self.workflow.production_version.label} "
            "serves production; the rollout is promoted."
        )
        return assessment.sentence

    def _where_to_look(self, rollout: Rollout, result: StoryResult) -> None:
        self.heading(f"Where to look in the admin ({admin_base_url()}, as manager)")
        self.say("")
        self.say("   Stage log:")
        for move in rollout.moves.order_by("at", "pk").select_related("moved_by"):
            self.say(
                f"     {move.from_stage or 'start':>15} -> {move.to_stage:<15} "
                f"{move.share_after * 100:>5.1f} %  by {move.mover_label}"
            )
        production, candidate = result.pairs[0] if result.pairs else (None, None)
        links = [
            (
                "The rollout: report, statistics, charts, stage log and the pause notice",
                _admin_path("rollouts_rollout_change", rollout.pk),
            ),
            (
                "A shadow pair, side by side",
                _admin_path("workflows_run_change", production) if production else "",
            ),
            (
                "The candidate's metrics chart",
                _admin_path("workflows_promptversion_change", self.candidate.pk),
            ),
            ("What the platform received (Outbox)", _admin_path("demo_outboxmessage_changelist")),
            ("The events received", _admin_path("measurement_campaignevent_changelist")),
        ]
        for label, path in links:
            if path:
                self.say(f"   {label}: {admin_base_url()}{path}")
        judged = PairPreference.objects.filter(rollout=rollout).count()
        self.say(
            f"   ({judged} pairwise picks recorded; the notice's email is in the mail backend:"
        )
        self.say("   the console, i.e. var/log/qcluster.log, under make run.)")
