"""Demo data: one complete trial-expiration email workflow to explore locally.

``load_demo()`` creates role users, audience segments, the approved input registries
(claims_v14, brand_v6, legal_v3), the prompt history v4..v7 with v7 in production, the
workflow with its fallback content, five campaign briefs, the data contract and recipients,
the evals (dataset, candidates v8..v10, criteria), the review routing and, while the demo
platforms are on, the destinations that publish to them (the Outbox), all for the
fictional product "Kestrel Boards" (project analytics for software teams); then the other
kinds: the weekly ad performance review with five weeks of made-up analytics
(demo.weekly_review) and paid_search_ads (demo.paid_search), from configuration only, and last
the demo triggers. Each part lives
in its own module of this app; this one holds the loader they share and the order they load in.

It is idempotent: objects are looked up by natural key (username, slug, version, brief name)
and only missing objects are created or drifted fields restored, so a second run writes
nothing. Approved versions are frozen, so existing ones are never edited, and lifecycle
states set since (a newer approved version, a different pinned prompt) are left alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.utils import timezone

from demo.approvals import load_demo_approvals
from demo.audience import load_demo_audience, load_demo_contract, load_demo_source, load_segments
from demo.destinations import load_demo_destinations
from demo.evals import load_demo_evals
from demo.paid_search import load_paid_search
from demo.prompts import load_prompts
from demo.registries import load_registries
from demo.triggers import load_demo_triggers
from demo.users import DEMO_PASSWORDS, DEMO_SERVICE_USER, DEMO_USERS, load_users
from demo.weekly_review import load_weekly_review
from demo.workflow import load_briefs, load_workflow
from workflows.models import (
    ArtifactStatus,
    AudienceSegment,
    BrandRules,
    CampaignBrief,
    Claim,
    ClaimSet,
    LegalRestrictionSet,
    PromptVersion,
    VersionedArtifact,
    Workflow,
    with_history_context,
)

DEMO_REASON = "Demo data"


# --- Summary -------------------------------------------------------------------------------


@dataclass
class DemoSummary:
    users: list[tuple[str, str, str]]  # (username, password, role)
    counts: dict[str, int]
    workflow: str = ""
    production_version: str = ""
    other_workflows: list[str] = field(default_factory=list)  # "slug serves label"
    inputs_in_force: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)

    @property
    def changed_anything(self) -> bool:
        return bool(self.created or self.updated)

    def lines(self) -> list[str]:
        if self.changed_anything:
            head = f"Demo data loaded: {len(self.created)} objects created, {len(self.updated)} updated."
        else:
            head = "Demo data already in place: nothing changed."
        lines = [
            head,
            f"Workflow {self.workflow} serves {self.production_version or 'no pinned prompt'}.",
            *(f"Workflow {serving}." for serving in self.other_workflows),
            f"Inputs in force: {', '.join(self.inputs_in_force) or 'none'}.",
            "Counts: " + ", ".join(f"{name} {n}" for name, n in self.counts.items()) + ".",
            "Demo users (local use only: these passwords are public):",
        ]
        lines += [
            f"  {username:<8} {password:<14} {role}" for username, password, role in self.users
        ]
        lines.append(
            f"Service account: {DEMO_SERVICE_USER} (no password, no role); commands without --user act as it "
            f"when MARKETINGAI_SERVICE_USER={DEMO_SERVICE_USER}."
        )
        return lines


# --- Loading -------------------------------------------------------------------------------


class DemoLoader:
    """Creates demo objects by natural key and records what it created or restored."""

    def __init__(self, *, stdout=None):
        self.stdout = stdout
        self.now = timezone.now()
        self.today = timezone.localdate()
        self.created: list[str] = []
        self.updated: list[str] = []
        self.users: dict[str, Any] = {}

    def note(self, kind: str, text: str) -> None:
        (self.created if kind == "created" else self.updated).append(text)
        if self.stdout is not None:
            self.stdout.write(f"  {kind} {text}")

    # Generic helpers -----------------------------------------------------------------

    def upsert(
        self,
        model: type[models.Model],
        lookup: dict[str, Any],
        values: dict[str, Any],
        *,
        by,
        create_only: dict[str, Any] | None = None,
        pre_save=None,
    ) -> models.Model:
        """Create by natural key, or restore drifted ``values``; ``create_only`` is set once."""
        obj = model.objects.filter(**lookup).first()
        if obj is None:
            obj = model(**lookup, **values, **(create_only or {}))
            if pre_save:
                pre_save(obj)
            obj.full_clean()
            with_history_context(obj, by=by, reason=DEMO_REASON)
            obj.save()
            self.note("created", f"{model._meta.verbose_name} {obj}")
            return obj
        changed = [name for name, value in values.items() if getattr(obj, name) != value]
        if changed:
            for name in changed:
                setattr(obj, name, values[name])
            obj.full_clean()
            with_history_context(obj, by=by, reason=f"{DEMO_REASON}: restored {', '.join(changed)}")
            obj.save(update_fields=changed)
            self.note("updated", f"{model._meta.verbose_name} {obj} ({', '.join(changed)})")
        return obj

    def artifact(
        self,
        model: type[VersionedArtifact],
        *,
        version: int,
        content: dict[str, Any],
        author,
        approver,
        target: str,
        scope: dict[str, Any] | None = None,
        created_at: datetime | None = None,
        claims: list[dict[str, Any]] | None = None,
    ) -> VersionedArtifact:
        """Ensure version ``version`` exists and reaches ``target`` through the lifecycle methods.

        An existing frozen version is never edited; a later state (archived, superseded) is kept.
        """
        scope = scope or {}
        obj = model.objects.filter(version=version, **scope).first()
        if obj is None:
            obj = model(version=version, author=author, **scope, **content)
            if created_at is not None:
                obj.created_at = created_at
            obj.full_clean()
            with_history_context(
                obj, by=author, reason=f"{DEMO_REASON}: {obj.changelog or 'new version'}"
            )
            obj.save()
            self.note("created", str(obj))
        if claims is not None and obj.status == ArtifactStatus.DRAFT:
            existing = set(obj.claims.values_list("key", flat=True))
            for values in claims:
                if values["key"] in existing:
                    continue
                claim = Claim(claim_set=obj, **values)
                claim.full_clean()
                with_history_context(claim, by=author, reason=DEMO_REASON)
                claim.save()
                self.note("created", f"claim {claim}")
        if obj.status == ArtifactStatus.DRAFT and target in (
            ArtifactStatus.APPROVED,
            ArtifactStatus.ARCHIVED,
        ):
            obj.approve(by=approver, reason=f"{DEMO_REASON}: approved {obj}")
            self.note("updated", f"{obj} approved by {approver}")
        if obj.status == ArtifactStatus.APPROVED and target == ArtifactStatus.ARCHIVED:
            obj.archive(by=approver, reason=f"{DEMO_REASON}: archived {obj}")
            self.note("updated", f"{obj} archived")
        return obj


def _load_features(loader: DemoLoader, workflow: Workflow, segment: AudienceSegment) -> None:
    """The data contract, the demo CDP source and its recipients, the evals and the approvals."""
    ops = loader.users["ops"]
    changes = load_demo_contract(workflow=workflow, by=ops)
    changes += load_demo_source(segment=segment, by=ops)
    changes += load_demo_audience(segment=segment, by=ops, now=loader.now)
    changes += load_demo_evals(workflow=workflow, users=loader.users)
    changes += load_demo_approvals(workflow=workflow, users=loader.users)
    for change in changes:
        loader.note("created", change)


def _serving(workflow: Workflow) -> str:
    pinned = workflow.production_version
    return f"{workflow.slug} serves {pinned.label if pinned else 'no pinned prompt'}"


def _summary(
    loader: DemoLoader,
    workflow: Workflow,
    inputs: list[VersionedArtifact],
    also: list[Workflow] = (),
) -> DemoSummary:
    from django.contrib.auth.models import Group

    workflow.refresh_from_db()
    for other in also:
        other.refresh_from_db()
    counted = [
        ("users", get_user_model()),
        ("groups", Group),
        ("segments", AudienceSegment),
        ("claim sets", ClaimSet),
        ("claims", Claim),
        ("brand rules", BrandRules),
        ("legal sets", LegalRestrictionSet),
        ("prompt versions", PromptVersion),
        ("workflows", Workflow),
        ("briefs", CampaignBrief),
    ]
    return DemoSummary(
        users=[
            (username, DEMO_PASSWORDS[username], group or "superuser")
            for username, (_, _, group) in DEMO_USERS.items()
        ],
        counts={name: model.objects.count() for name, model in counted},
        workflow=workflow.slug,
        production_version=workflow.production_version.label if workflow.production_version else "",
        other_workflows=[_serving(other) for other in also],
        inputs_in_force=[str(obj) for obj in inputs if obj.status == ArtifactStatus.APPROVED],
        created=loader.created,
        updated=loader.updated,
    )


def load_demo(*, stdout=None, force: bool = False) -> DemoSummary:
    """Create (or complete) the demo data set; a second run changes nothing.

    Refuses unless the demo is switched on (MARKETINGAI_DEMO); ``force`` is for in-process
    callers that own their database (tests, benchmarks), never offered on the command line.
    """
    if not settings.MARKETINGAI_DEMO and not force:
        raise ValueError(
            "The demo creates staff users with published passwords, so it only loads with MARKETINGAI_DEMO=1 "
            "(set by `make run`); never switch it on for a shared server."
        )
    loader = DemoLoader(stdout=stdout)
    with transaction.atomic():
        load_users(loader)
        segment = load_segments(loader)
        inputs = load_registries(loader)
        template, production = load_prompts(loader)
        workflow = load_workflow(loader, template, production)
        load_briefs(loader, workflow, segment)
        _load_features(loader, workflow, segment)
        load_demo_destinations(loader, workflow)
        load_weekly_review(loader)
        paid_search = load_paid_search(loader)
        # Last: the triggers of whichever demo workflows are loaded, and their schedules synced.
        for change in load_demo_triggers(by=loader.users["ops"]):
            loader.note("created", change)
        return _summary(loader, workflow, inputs, also=[paid_search])
