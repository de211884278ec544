"""Cohort keys built from CDP attribute values always fit RunVariant.key and stay unique per cohort."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inputs.models import Recipient, RecipientAssignment
from inputs.services import cohort_key
from tests.support.runs import start_and_execute
from workflows.models import RunVariant

KEY_LENGTH = RunVariant._meta.get_field("key").max_length
REASON_LENGTH = RecipientAssignment._meta.get_field("reason").max_length


def test_short_cohort_keys_stay_readable():
    assert (
        cohort_key({"role": "finance admin", "usage_tier": "high"})
        == "role=finance admin|usage_tier=high"
    )


def test_cohort_keys_of_300_character_values_fit_and_differ():
    long_a = {"role": "x" * 300, "usage_tier": "high"}
    long_b = {"role": "x" * 300, "usage_tier": "low"}
    keys = {cohort_key(long_a), cohort_key(long_b)}
    assert len(keys) == 2
    assert all(len(k) <= KEY_LENGTH for k in keys)
    assert all(len(f"Cohort {k} generation failed") <= REASON_LENGTH for k in keys)
    assert cohort_key(long_a) == cohort_key(dict(long_a))  # deterministic


def test_values_holding_separators_cannot_make_two_cohorts_read_alike():
    a = {"role": "x|usage_tier=y", "usage_tier": "z"}
    b = {"role": "x", "usage_tier": "y|usage_tier=z"}
    assert cohort_key(a) != cohort_key(b)
    assert cohort_key(a) != "role=x|usage_tier=y|usage_tier=z"


@pytest.mark.django_db
def test_a_run_over_300_character_attribute_values_plans_fitting_distinct_variants(
    audience_workspace, model_server, reply, valid_email
):
    ws = audience_workspace
    fresh = [
        r
        for r in Recipient.objects.filter(
            consent=Recipient.Consent.OPTED_IN, usage_as_of__gte=timezone.now() - timedelta(hours=6)
        )
        if r.attributes.get("usage_tier")
    ]
    for i, recipient in enumerate(fresh[:4]):
        recipient.attributes = {**recipient.attributes, "usage_tier": "t" * 300 + str(i % 2)}
        Recipient.objects.filter(pk=recipient.pk).update(attributes=recipient.attributes)
    model_server.push(*[reply.json({**valid_email, "rationale": f"v{i}"}) for i in range(20)])

    run = start_and_execute(ws)

    keys = list(run.variants.values_list("key", flat=True))
    assert all(len(k) <= KEY_LENGTH for k in keys), max(map(len, keys))
    long_keys = [k for k in keys if "t" * 100 in k]
    assert long_keys and len(set(long_keys)) == len(long_keys)
    variants = {v.key: v for v in run.variants.all()}
    for key in long_keys:
        assert (
            variants[key].attributes["usage_tier"].startswith("t" * 300)
        )  # the full value reached the prompt
