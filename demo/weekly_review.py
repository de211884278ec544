"""The demo's second workflow: the weekly ad performance review, configuration plus the analytics app.

Its prompt (v1, approved and pinned through the same lifecycle as the trial email's), its
output contract, eval policy (the summary checks), review settings (15 %, 1,000 impressions),
routing (every summary to product marketing), the demo ad platform source, five weeks of
made-up analytics up to yesterday, and, where the operator allows its secret, a chat destination.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from analytics.comparison import DEFAULT_DROP_THRESHOLD_PCT, DEFAULT_MIN_IMPRESSIONS
from analytics.imports import analytics_import_rows
from analytics.models import AnalyticsImport, AnalyticsSource, PerformanceReviewSettings
from approvals.models import ReviewTeam, RoutingRule
from demo.ad_performance import DEMO_RECORDS_PATH, WORKFLOW_SLUG, demo_rows
from demo.cdp import DEMO_CDP_TOKEN_ENV
from evals.models import EvalPolicy
from publishing.models import Destination
from workflows import outbound, secrets
from workflows.models import (
    ArtifactStatus,
    AudienceSegment,
    CampaignBrief,
    PromptTemplate,
    PromptVersion,
    Workflow,
    with_history_context,
)

if TYPE_CHECKING:
    from demo.loader import DemoLoader

STEPS = [
    "check_analytics",
    "compare_ad_performance",
    "render_prompt",
    "generate",
    "evaluate",
    "request_approval",
]
VALIDATORS = [
    "json_schema",
    "required_fields",
    "summary_numbers_in_table",
    "summary_ads_exist",
    "summary_flagged_ads_mentioned",
    "summary_flags_match_table",
]
CHAT_DESTINATION = "#growth-standup (demo chat)"
CHAT_SECRET = "MARKETINGAI_DEMO_PLATFORM_TOKEN"
REVIEW_TEAM = ReviewTeam.PRODUCT_MARKETING


def _text(max_length: int, title: str, description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": max_length,
        "title": title,
        "description": description,
    }


def summary_output_schema() -> dict[str, Any]:
    """The weekly summary: a headline, the flagged creatives with their numbers, observations, actions."""
    number = {"type": "number"}
    return {
        "type": "object",
        "properties": {
            "headline": _text(120, "Headline", "One line for the top of the chat message."),
            "flagged": {
                "type": "array",
                "title": "Flagged creatives",
                "description": "Every ad the table flags, with its numbers copied from the table.",
                # Bounded so a small model's grammar-constrained JSON ends within max_tokens.
                "maxItems": 10,
                "items": {
                    "type": "object",
                    "properties": {
                        "ad_id": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 40,
                            "title": "Ad id",
                        },
                        "ad_name": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": 80,
                            "title": "Ad name",
                        },
                        "ctr_last_week": {**number, "title": "CTR last week (%)"},
                        "ctr_prior_4_weeks": {**number, "title": "CTR prior 4 weeks (%)"},
                        "change_pct": {**number, "title": "Change (%)"},
                    },
                    "required": [
                        "ad_id",
                        "ad_name",
                        "ctr_last_week",
                        "ctr_prior_4_weeks",
                        "change_pct",
                    ],
                    "additionalProperties": False,
                },
            },
            "observations": {
                "type": "array",
                "title": "Observations",
                "description": "What else the table shows, one sentence each.",
                "maxItems": 3,
                "items": _text(160, "Observation", "One sentence."),
            },
            "suggested_actions": {
                "type": "array",
                "title": "Suggested actions",
                "description": "What the team could do about the flagged creatives.",
                "maxItems": 3,
                "items": _text(160, "Suggested action", "One sentence."),
            },
        },
        "required": ["headline", "flagged", "observations", "suggested_actions"],
        "additionalProperties": False,
    }


SYSTEM_PROMPT = (
    "You write the weekly ad performance summary the growth team reads before standup.\n"
    "Work only from the computed table in the user message. Rules:\n"
    "- Copy every number exactly as the table writes it. Never calculate, round or invent a number.\n"
    "- Name only ads that are in the table, with their ad_id and ad_name as written there.\n"
    '- Put every ad of the table\'s "flagged" list in "flagged", with its ctr_last_week, '
    "ctr_prior_4_weeks and change_pct. Put no other ad there.\n"
    '- Ads in "too_small" had too few impressions to judge: never call them a drop. '
    'Ads in "new" have no earlier weeks to compare with.\n'
    "- CTRs and changes are percentages.\n"
    "- Keep it short: at most 3 observations and 3 suggested actions, one sentence each.\n"
    "- Reply with one JSON object in the requested shape and nothing before or after it."
)
USER_TEMPLATE = (
    "Summarise last week's ad performance for the team.\n\n"
    "## Computed table (last week against the 4 weeks before it)\n{{ad_performance}}\n\n"
    "## Reply format\nReturn a single JSON object shaped like this:\n{{output_schema}}"
)


def _prompt(loader: DemoLoader) -> PromptVersion:
    ops, admin = loader.users["ops"], loader.users["admin"]
    template = loader.upsert(
        PromptTemplate,
        {"slug": WORKFLOW_SLUG},
        {
            "name": "Weekly ad performance review",
            "description": "The standup summary of last week's ads against the four weeks before.",
        },
        by=ops,
    )
    return loader.artifact(
        PromptVersion,
        version=1,
        scope={"template": template},
        content={
            "changelog": "First summary prompt: the computed table only, numbers copied as written.",
            "system_prompt": SYSTEM_PROMPT,
            "user_template": USER_TEMPLATE,
            "output_schema": summary_output_schema(),
            "temperature": Decimal("0.20"),
            "max_tokens": 900,
        },
        author=ops,
        approver=admin,
        target=ArtifactStatus.APPROVED,
    )


def _workflow(loader: DemoLoader, version: PromptVersion) -> Workflow:
    admin = loader.users["admin"]
    workflow = loader.upsert(
        Workflow,
        {"slug": WORKFLOW_SLUG},
        {
            "name": "Weekly ad performance review",
            "channel": Workflow.Channel.SLACK,
            "description": (
                "Every Monday before standup: last week's click-through rate of each ad against the "
                "four weeks before it, the creatives that dropped, and what to do about them, "
                "reviewed by a person and posted to the team's chat."
            ),
            "prompt_template": version.template,
            "output_schema": summary_output_schema(),
            "fallback_content": None,
            "steps": list(STEPS),
            "cohort_attributes": [],
        },
        by=admin,
    )
    if workflow.production_version_id is None:
        workflow.pin_production_version(
            version, by=admin, reason="Demo: the first summary prompt serves production."
        )
        loader.note("updated", f"{workflow.slug} pinned to {version.label}")
    return workflow


def _brief(loader: DemoLoader, workflow: Workflow) -> None:
    ops = loader.users["ops"]
    segment = loader.upsert(
        AudienceSegment,
        {"slug": "growth_team"},
        {
            "name": "Growth team (standup channel)",
            "description": "The people who read the weekly ad summary in #growth-standup.",
            "source": "team",
        },
        by=ops,
    )
    loader.upsert(
        CampaignBrief,
        {"workflow": workflow, "name": "Weekly ad performance review"},
        {
            "audience_segment": segment,
            "audience_role": "growth marketing team",
            "plan_name": "Paid acquisition",
            "key_facts": "Read at Monday standup.",
        },
        by=ops,
        pre_save=lambda brief: setattr(brief, "created_by", ops),
    )


def _save(obj, *, by, reason: str) -> None:
    obj.full_clean()
    with_history_context(obj, by=by, reason=reason)
    obj.save()


def _features(loader: DemoLoader, workflow: Workflow) -> list[str]:
    ops, admin = loader.users["ops"], loader.users["admin"]
    changes = []
    if not EvalPolicy.objects.filter(workflow=workflow).exists():
        _save(
            EvalPolicy(workflow=workflow, validators=list(VALIDATORS), judges=[]),
            by=ops,
            reason="Demo eval policy: the summary checks",
        )
        changes.append(f"eval policy for {workflow.slug}")
    if not PerformanceReviewSettings.objects.filter(workflow=workflow).exists():
        _save(
            PerformanceReviewSettings(
                workflow=workflow,
                drop_threshold_pct=DEFAULT_DROP_THRESHOLD_PCT,
                min_impressions=DEFAULT_MIN_IMPRESSIONS,
            ),
            by=ops,
            reason="Demo review settings",
        )
        changes.append(f"review settings for {workflow.slug}")
    if not RoutingRule.objects.filter(workflow=workflow).exists():
        _save(
            RoutingRule(
                workflow=workflow,
                position=10,
                name="Every summary to product marketing",
                condition=RoutingRule.Condition.ALWAYS,
                team=ReviewTeam.objects.get(slug=REVIEW_TEAM),
            ),
            by=admin,
            reason="Demo routing rule",
        )
        changes.append(f"routing rule of {workflow.slug}")
    changes += _source(workflow, by=ops)
    changes += _chat_destination(workflow, by=ops)
    return changes


def _port() -> str:
    return os.environ.get("MARKETINGAI_ADMIN_PORT", "8000")


def _source(workflow: Workflow, *, by) -> list[str]:
    values = {
        "url": f"http://127.0.0.1:{_port()}/demo-ads/{workflow.slug}/daily.json",
        "records_path": DEMO_RECORDS_PATH,
        "auth_header": "Authorization",
        "auth_secret": DEMO_CDP_TOKEN_ENV,
    }
    source = AnalyticsSource.objects.filter(workflow=workflow, name="demo-ads").first()
    if source is not None and all(getattr(source, k) == v for k, v in values.items()):
        return []
    source = source or AnalyticsSource(workflow=workflow, name="demo-ads")
    for name, value in values.items():
        setattr(source, name, value)
    with_history_context(source, by=by, reason="Demo ad platform source")
    source.save()
    return [f"analytics source demo-ads of {workflow.slug}"]


def _chat_destination(workflow: Workflow, *, by) -> list[str]:
    """The demo chat, only where the operator allows its secret (the demo platforms set it)."""
    url = f"http://127.0.0.1:{_port()}/demo-platforms/chat/api"
    if secrets.refusal(CHAT_SECRET) or outbound.static_refusal(url, label="The demo chat"):
        return []
    if Destination.objects.filter(workflow=workflow, name=CHAT_DESTINATION).exists():
        return []
    _save(
        Destination(
            workflow=workflow,
            name=CHAT_DESTINATION,
            kind=Destination.Kind.SLACK_BOT,
            target="#growth-standup",
            api_base_url=url,
            secret_name=CHAT_SECRET,
        ),
        by=by,
        reason="Demo chat destination",
    )
    return [f"destination {CHAT_DESTINATION}"]


def demo_import_name(as_of: date) -> str:
    return f"demo ad platforms, 35 days before {as_of.isoformat()}"


def load_demo_analytics(*, workflow: Workflow, by, as_of: date) -> list[str]:
    """Five weeks of made-up analytics up to the day before ``as_of``, once per day."""
    name = demo_import_name(as_of)
    if AnalyticsImport.objects.imported().filter(workflow=workflow, source_name=name).exists():
        return []
    record = analytics_import_rows(
        workflow=workflow, rows=demo_rows(as_of), source_name=name, imported_by=by
    )
    return [f"{record.row_count} demo ad rows for {workflow.slug}"]


def load_weekly_review(loader: DemoLoader) -> Workflow:
    version = _prompt(loader)
    workflow = _workflow(loader, version)
    _brief(loader, workflow)
    changes = _features(loader, workflow)
    changes += load_demo_analytics(workflow=workflow, by=loader.users["ops"], as_of=loader.today)
    for change in changes:
        loader.note("created", change)
    return workflow
