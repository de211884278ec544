"""What the eval suite tests share: a small dataset, a responder per side, the baseline outcomes."""

import json
from datetime import date

from evals.models import PromotionCriteria

BROKEN = "Brief whose model call fails"


def dataset_json(n: int, *, broken: int | None = None) -> bytes:
    items = [
        {
            "external_id": f"hist_{i:03d}",
            "name": BROKEN if i == broken else f"Trial ending, past campaign {i}",
            "audience_role": "engineering manager",
            "plan_name": "Team",
            "product_usage_summary": f"Built {i} boards.",
            "key_facts": ["The trial ends in 3 days."],
            "tags": ["edge_case:empty_usage"] if i == 0 else [],
        }
        for i in range(n)
    ]
    return json.dumps(items).encode()


def responder_for(reply, valid_email, *, candidate_email=None, fail_on=BROKEN, delay=0.0):
    """Baseline prompts get ``valid_email``; prompts mentioning "CANDIDATE" get ``candidate_email``."""

    def respond(body):
        text = json.dumps(body["messages"])
        if fail_on and fail_on in text:
            return reply.error(400, "scripted refusal")
        document = (
            candidate_email
            if (candidate_email is not None and "CANDIDATE" in text)
            else valid_email
        )
        return reply.json(document, delay=delay)

    return respond


# Two months of the production prompt's campaigns: 46150 sends; 89 of 98 reviewed emails approved.
BASELINE_OUTCOMES = [
    {
        "period_start": date(2026, 6, 1),
        "period_end": date(2026, 6, 30),
        "sends": 21840,
        "clicks": 1031,
        "unsubscribes": 61,
        "upgrades": 612,
        "reviewed": 46,
        "approved": 42,
    },
    {
        "period_start": date(2026, 7, 1),
        "period_end": date(2026, 7, 31),
        "sends": 24310,
        "clicks": 1180,
        "unsubscribes": 70,
        "upgrades": 700,
        "reviewed": 52,
        "approved": 47,
    },
]


def reference_criteria(workflow, **changes):
    """The reference article's criteria (the model defaults), with ``changes``."""
    PromotionCriteria.objects.filter(workflow=workflow).delete()
    return PromotionCriteria.objects.create(workflow=workflow, **changes)


def short(version) -> str:
    """A prompt version as the commands take it: ``v8``."""
    return f"v{version.version}"
