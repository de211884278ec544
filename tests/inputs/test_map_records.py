"""map_records: a source's records mapped onto ours by dotted paths (pure, no database)."""

from __future__ import annotations

import pytest

from inputs.models import AudienceSource
from inputs.sources import SourceError, map_records, source_age_hours

# A source shaped unlike ours: records under data.members, nested contact and usage, a "subscribed" flag.
RECORDS_PATH = "data.members"
FIELD_MAPPING = {
    "customer_id": "id",
    "email": "contact.email",
    "role": "job_role",
    "plan": "plan",
    "consent": "subscribed",
    "usage_summary": "usage.summary",
    "usage_as_of": "usage.updated_at",
}


# --- map_records (pure) ------------------------------------------------------------------


def test_map_records_follows_dotted_paths_and_keeps_the_rest_as_attributes():
    payload = {
        "data": {
            "members": [
                {
                    "id": "c1",
                    "contact": {"email": "a@example.com", "phone": "+1 555"},
                    "job_role": "marketing lead",
                    "plan": "Team",
                    "subscribed": False,
                    "usage": {
                        "summary": "Two dashboards.",
                        "updated_at": "2025-05-01T10:00:00+00:00",
                    },
                    "usage_tier": "low",
                    "company_size": 40,
                }
            ]
        }
    }

    (record,) = map_records(payload, records_path=RECORDS_PATH, field_mapping=FIELD_MAPPING)

    assert record == {
        "customer_id": "c1",
        "email": "a@example.com",
        "role": "marketing lead",
        "plan": "Team",
        "consent": False,
        "usage_summary": "Two dashboards.",
        "usage_as_of": "2025-05-01T10:00:00+00:00",
        "attributes": {"usage_tier": "low", "company_size": 40},
    }


def test_map_records_reads_unmapped_fields_under_our_names():
    payload = [
        {
            "customer_id": "c1",
            "email": "a@example.com",
            "consent": "opted_in",
            "region": "EU",
            "attributes": {"seats": 4},
        }
    ]

    (record,) = map_records(payload, records_path="", field_mapping={})

    assert record == {
        "customer_id": "c1",
        "email": "a@example.com",
        "consent": "opted_in",
        "attributes": {"seats": 4, "region": "EU"},
    }


def test_map_records_puts_extra_fields_of_ours_into_attributes():
    payload = {"rows": [{"id": "c1", "firmographics": {"size": 120}}]}

    (record,) = map_records(
        payload,
        records_path="rows",
        field_mapping={"customer_id": "id", "company_size": "firmographics.size"},
    )

    assert record == {"customer_id": "c1", "attributes": {"company_size": 120}}


def test_map_records_leaves_missing_fields_out_for_validation_to_report():
    (record,) = map_records(
        [{"id": "c1", "contact": {}}],
        records_path="",
        field_mapping={"customer_id": "id", "email": "contact.email"},
    )

    assert "email" not in record and record["customer_id"] == "c1"


@pytest.mark.parametrize(
    ("payload", "records_path", "message"),
    [
        (
            {"data": {"members": []}},
            "data.recipients",
            "The response has no list at 'data.recipients'.",
        ),
        (
            {"data": {"members": {"a": 1}}},
            "data.members",
            "The response has no list at 'data.members'.",
        ),
        ({"data": []}, "data.members", "The response has no list at 'data.members'."),
        (
            {"members": []},
            "",
            "The response is not a list of records; give the path to the list in the source.",
        ),
        ({"members": [1, 2]}, "members", "Record 1 of the response is not an object."),
    ],
)
def test_map_records_rejects_a_wrong_shape(payload, records_path, message):
    with pytest.raises(SourceError) as caught:
        map_records(payload, records_path=records_path, field_mapping={})
    assert str(caught.value) == message


def test_map_records_refuses_a_mapping_that_is_not_names():
    with pytest.raises(SourceError, match="field mapping"):
        map_records([{"id": "c1"}], records_path="", field_mapping={"customer_id": ["id"]})


def test_source_age_hours_is_none_before_the_first_pull():
    assert source_age_hours(AudienceSource(last_fetched_at=None)) is None
