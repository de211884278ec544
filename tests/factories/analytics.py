"""The weekly ad performance review, built for the tests: its workflow, prompt, checks and routing,
daily ad rows to import, and summaries shaped like a model's reply.

Explicit test data, not the demo's (tests/demo covers that): two platforms, a handful of ads.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from analytics import comparison
from analytics.comparison import DailyRow
from analytics.imports import analytics_import_rows
from tests.factories.approvals import RoutingRuleFactory, review_teams
from tests.factories.evals import EvalPolicyFactory
from tests.factories.users import team_users
from tests.factories.workflows import (
    CampaignBriefFactory,
    PromptTemplateFactory,
    PromptVersionFactory,
    SegmentFactory,
    WorkflowFactory,
)

REVIEW_SLUG = "weekly_ad_performance_review"
AS_OF = date(2026, 11, 30)  # a Monday: last week is 2026-11-23..29
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


def summary_schema() -> dict[str, Any]:
    text = {"type": "string", "minLength": 1, "maxLength": 240}
    flagged_item = {
        "type": "object",
        "properties": {
            "ad_id": {"type": "string", "minLength": 1},
            "ad_name": {"type": "string", "minLength": 1},
            "ctr_last_week": {"type": "number"},
            "ctr_prior_4_weeks": {"type": "number"},
            "change_pct": {"type": "number"},
        },
        "required": ["ad_id", "ad_name", "ctr_last_week", "ctr_prior_4_weeks", "change_pct"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "headline": {**text, "maxLength": 120},
            "flagged": {"type": "array", "items": flagged_item, "maxItems": 20},
            "observations": {"type": "array", "items": text, "maxItems": 3},
            "suggested_actions": {"type": "array", "items": text, "maxItems": 3},
        },
        "required": ["headline", "flagged", "observations", "suggested_actions"],
        "additionalProperties": False,
    }


SYSTEM_PROMPT = "You summarise ad performance. Copy numbers from the table. Reply with JSON."
USER_TEMPLATE = "## Table\n{{ad_performance}}\n\n## Reply format\n{{output_schema}}"


def review_workspace(*, users: dict | None = None) -> dict:
    """Keys: users, prompt, workflow, segment, brief, policy, teams."""
    users = users or team_users()
    ops, admin = users["ops"], users["admin"]
    template = PromptTemplateFactory(slug=REVIEW_SLUG, name="Weekly ad performance review")
    prompt = PromptVersionFactory(
        template=template,
        version=3,
        author=ops,
        approved_by=admin,
        system_prompt=SYSTEM_PROMPT,
        user_template=USER_TEMPLATE,
        output_schema=summary_schema(),
    )
    workflow = WorkflowFactory(
        slug=REVIEW_SLUG,
        name="Weekly ad performance review",
        channel="slack",
        prompt_template=template,
        output_schema=summary_schema(),
        fallback_content=None,
        steps=list(STEPS),
        cohort_attributes=[],
        history_user=admin,
        production=prompt,
        production__by=admin,
    )
    segment = SegmentFactory(slug="growth_team", name="Growth team")
    brief = CampaignBriefFactory(workflow=workflow, audience_segment=segment, created_by=ops)
    policy = EvalPolicyFactory(
        workflow=workflow,
        validators=list(VALIDATORS),
        field_limits={},
        known_features=[],
        known_competitors=[],
        history_user=ops,
    )
    teams = review_teams(by=admin)
    RoutingRuleFactory(
        workflow=workflow,
        position=10,
        name="Every summary to product marketing",
        team=teams["product_marketing"],
        history_user=admin,
    )
    return {
        "users": users,
        "prompt": prompt,
        "workflow": workflow,
        "segment": segment,
        "brief": brief,
        "policy": policy,
        "teams": teams,
    }


# --- Daily rows ------------------------------------------------------------------------------


def days_before(as_of: date, first: int, last: int = 1) -> list[date]:
    """The days ``first`` .. ``last`` days before ``as_of``, oldest first."""
    return [as_of - timedelta(days=n) for n in range(first, last - 1, -1)]


def ad_rows(
    ad_id: str,
    days: list[date],
    *,
    impressions: int,
    clicks: int,
    platform: str = "linkedin",
    ad_name: str | None = None,
    campaign_id: str = "cmp_1",
    spend: str = "10.00",
    currency: str = "EUR",
) -> list[DailyRow]:
    return [
        DailyRow(
            date=day,
            platform=platform,
            campaign_id=campaign_id,
            ad_id=ad_id,
            ad_name=ad_name or f"Ad {ad_id}",
            impressions=impressions,
            clicks=clicks,
            spend=Decimal(spend),
            currency=currency,
        )
        for day in days
    ]


def weeks(
    ad_id: str,
    *,
    prior: tuple[int, int] | None,
    last: tuple[int, int] | None,
    as_of: date = AS_OF,
    **kwargs,
) -> list[DailyRow]:
    """Daily (impressions, clicks) through the 28 prior days and the 7 days of last week."""
    rows = []
    if prior is not None:
        rows += ad_rows(
            ad_id, days_before(as_of, 35, 8), impressions=prior[0], clicks=prior[1], **kwargs
        )
    if last is not None:
        rows += ad_rows(
            ad_id, days_before(as_of, 7, 1), impressions=last[0], clicks=last[1], **kwargs
        )
    return rows


def story_rows(as_of: date = AS_OF) -> list[DailyRow]:
    """Two platforms: two ads that drop (one per platform), one steady, one new, one too small."""
    return [
        # 2.0 % -> 1.5 %: -25 %
        *weeks(
            "li_ad_1", prior=(1000, 20), last=(1000, 15), as_of=as_of, ad_name="Boards carousel"
        ),
        # 1.0 % -> 1.0 %
        *weeks("li_ad_2", prior=(2000, 20), last=(2000, 20), as_of=as_of, ad_name="Sprint video"),
        # no prior weeks: new
        *weeks("li_ad_3", prior=None, last=(500, 5), as_of=as_of, ad_name="Alerts launch"),
        # 4.0 % -> 3.0 %: -25 %
        *weeks(
            "gg_ad_1",
            prior=(3000, 120),
            last=(3000, 90),
            as_of=as_of,
            platform="google_ads",
            ad_name="Engineering KPIs",
        ),
        # 100 a day last week (700 < 1,000): too small, though it halves
        *weeks(
            "gg_ad_2",
            prior=(100, 4),
            last=(100, 2),
            as_of=as_of,
            platform="google_ads",
            ad_name="Webinar test",
        ),
    ]


STORY_FLAGGED = ["gg_ad_1", "li_ad_1"]  # worst first: both -25 %, then by platform and id


def import_rows(workspace: dict, rows: list[DailyRow], *, source_name: str = "test rows"):
    return analytics_import_rows(
        workflow=workspace["workflow"],
        rows=rows,
        source_name=source_name,
        imported_by=workspace["users"]["ops"],
    )


def faithful_summary(rows: list[DailyRow], as_of: date = AS_OF) -> dict[str, Any]:
    """What a careful writer makes of the table: every flagged ad with its numbers, nothing else."""
    table = comparison.compare(rows, as_of=as_of)
    return {
        "headline": f"{table['counts']['flagged']} creatives dropped last week",
        "flagged": [{k: entry[k] for k in comparison.FLAGGED_FIELDS} for entry in table["flagged"]],
        "observations": [
            f"{entry['ad_name']} had too few impressions to judge ({entry['impressions_last_week']})."
            for entry in table["too_small"]
        ],
        "suggested_actions": ["Refresh the creatives that dropped before Wednesday."],
    }
