"""Eval datasets: historical briefs imported from CSV or JSON, all or nothing, rendered like campaign briefs."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from evals import services
from evals.importing import parse_dataset
from evals.models import EvalDataset, EvalDatasetItem, EvalSuiteRun
from tests.factories.workspace import candidate
from workflows import services as run_services
from workflows.models import RunVariant
from workflows.prompts import brief_prompt_variables, prompt_variables

GOOD_CSV = (
    "external_id,name,audience_role,plan_name,product_usage_summary,offer,offer_expires_at,key_facts,tags,sends,clicks,unsubscribes,upgrades\n"
    "h1,Trial ending: Zoë's studio,designer,Team,Built 3 boards.,,,The trial ends in 3 days. | Viewers cost nothing.,edge_case:non_ascii_name,1200,48,3,30\n"
    'h2,Expired spring offer,finance admin,Business,,"20% off the first year.",2025-12-31T23:59:00Z,The trial ends in 3 days.,edge_case:expired_offer;edge_case:empty_usage,,,,\n'
).encode()


def test_a_csv_parses_facts_tags_and_outcomes():
    result = parse_dataset(GOOD_CSV, filename="briefs.csv")

    assert result.ok, result.errors
    first, second = result.rows
    assert (
        first.name == "Trial ending: Zoë's studio"
        and first.key_facts == "The trial ends in 3 days.\nViewers cost nothing."
    )
    assert first.tags == ("edge_case:non_ascii_name",) and first.metrics == {
        "sends": 1200,
        "clicks": 48,
        "unsubscribes": 3,
        "upgrades": 30,
    }
    assert second.offer_expires_at.year == 2025 and second.tags == (
        "edge_case:expired_offer",
        "edge_case:empty_usage",
    )
    assert second.metrics == {} and second.product_usage_summary == ""


def test_a_bad_file_lists_every_row_error_and_keeps_nothing():
    bad = json.dumps(
        [
            {"external_id": "a", "name": "ok", "audience_role": "dev", "plan_name": "Team"},
            {"external_id": "a", "name": "", "audience_role": "dev", "plan_name": "Team"},
            {
                "external_id": "b",
                "name": "x",
                "audience_role": "dev",
                "plan_name": "Team",
                "offer_expires_at": "2026-01-01T00:00:00Z",
            },
            {
                "external_id": "c",
                "name": "x",
                "audience_role": "dev",
                "plan_name": "Team",
                "metrics": {"sends": 10, "clicks": 11},
            },
            {
                "external_id": "d",
                "name": "x",
                "audience_role": "dev",
                "plan_name": "Team",
                "offer": "A",
                "offer_expires_at": "2026-01-01",
            },
        ]
    ).encode()

    result = parse_dataset(bad, filename="bad.json")

    assert not result.ok and result.rows == []
    assert [str(e) for e in result.errors] == [
        "row 2, name: is empty; every brief needs it",
        "row 2, external_id: duplicate id 'a', first seen in row 1",
        "row 3, offer_expires_at: an expiry date needs an offer",
        "row 4, clicks: cannot exceed sends (10)",
        "row 5, offer_expires_at: needs a time zone, e.g. 2026-11-22T23:59:00Z: '2026-01-01'",
    ]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "The file is empty."),
        (b"external_id,name\nx,y\n", "row 1: missing required columns audience_role, plan_name"),
        (b"\xff\xfe", "The file is not UTF-8 text"),
        (
            b'{"items": 3}',
            'The JSON must be a list of brief objects, or an object with an "items" list.',
        ),
    ],
)
def test_unusable_files_are_refused_with_one_sentence(data, message):
    result = parse_dataset(data, filename="x.csv" if b"," in data else "x.json")
    assert not result.ok and str(result.errors[0]).startswith(message)


@pytest.mark.django_db
def test_a_rejected_file_leaves_the_existing_dataset_unchanged(workspace):
    workflow = workspace["workflow"]
    first = services.dataset_import(
        workflow=workflow, name="Past", data=GOOD_CSV, filename="good.csv"
    )
    assert first.ok and first.dataset.items.count() == 2

    rejected = services.dataset_import(
        workflow=workflow,
        name="Past",
        data=b"external_id,name,audience_role,plan_name\n,,,\nz,n,r,\n",
        filename="bad.csv",
    )

    assert not rejected.ok and rejected.dataset is None
    assert sorted(first.dataset.items.values_list("external_id", flat=True)) == ["h1", "h2"]


@pytest.mark.django_db
def test_a_dataset_used_by_a_suite_is_never_replaced(workspace):
    from django.core.exceptions import ValidationError

    workflow = workspace["workflow"]
    dataset = services.dataset_import(
        workflow=workflow, name="Past", data=GOOD_CSV, filename="good.csv"
    ).dataset
    services.suite_start(
        workflow=workflow,
        candidate=candidate(workspace),
        dataset=dataset,
        started_by=None,
        enqueue=False,
    )

    with pytest.raises(
        ValidationError, match="has been used by 1 eval suite; import the file under a new name"
    ):
        services.dataset_import(workflow=workflow, name="Past", data=GOOD_CSV, filename="good.csv")


@pytest.mark.django_db
def test_import_dataset_command_reports_counts_and_errors(workspace, tmp_path, capsys):
    good = tmp_path / "briefs.csv"
    good.write_bytes(GOOD_CSV)
    call_command(
        "import_dataset", "trial_expiration_email", "Command briefs", str(good), "--user", "ops"
    )
    assert (
        "Imported 2 briefs into the dataset 'Command briefs' (command-briefs)"
        in capsys.readouterr().out
    )
    assert EvalDataset.objects.get(slug="command-briefs").created_by.username == "ops"

    bad = tmp_path / "bad.json"
    bad.write_text('[{"external_id": "x"}]')
    with pytest.raises(CommandError, match="Nothing imported: 3 errors in"):
        call_command("import_dataset", "trial_expiration_email", "Bad", str(bad))
    assert "row 1, name: is empty" in capsys.readouterr().err
    assert not EvalDataset.objects.filter(slug="bad").exists()


@pytest.mark.django_db
def test_a_dataset_item_renders_exactly_like_a_campaign_brief(workspace, model_server):
    run = run_services.run_start(
        workflow=workspace["workflow"], brief=workspace["brief"], started_by=None, enqueue=False
    )
    variant = RunVariant(run=run, key=RunVariant.DEFAULT_KEY)

    from_item_path = brief_prompt_variables(
        run.brief,
        prompt_version=run.prompt_version,
        claim_set=run.claim_set,
        brand_rules=run.brand_rules,
        legal_restrictions=run.legal_restrictions,
    )

    assert from_item_path == prompt_variables(run, variant)
    services.dataset_import(
        workflow=workspace["workflow"], name="Past", data=GOOD_CSV, filename="good.csv"
    )
    item = EvalDatasetItem.objects.get(offer_expires_at__isnull=False)
    variables = brief_prompt_variables(
        item,
        prompt_version=run.prompt_version,
        claim_set=run.claim_set,
        brand_rules=run.brand_rules,
        legal_restrictions=run.legal_restrictions,
    )
    assert (
        variables["campaign_brief"]["id"] == item.external_id
        and variables["audience"]["role"] == item.audience_role
    )
    assert variables["campaign_brief"]["offer_expires_at"] == item.offer_expires_at.isoformat()


@pytest.mark.django_db
def test_admin_import_page_shows_row_errors_and_imports_a_good_file(admin_client, workspace):
    from django.core.files.uploadedfile import SimpleUploadedFile

    url = reverse("admin:evals_evaldataset_import")
    workflow = workspace["workflow"]
    bad = admin_client.post(
        url,
        {
            "workflow": workflow.pk,
            "name": "Upload",
            "file": SimpleUploadedFile("b.json", b'[{"external_id": "x"}]'),
            "format": "auto",
        },
    )
    assert bad.status_code == 200 and "row 1, name: is empty" in bad.content.decode()
    assert not EvalDataset.objects.filter(slug="upload").exists()

    good = admin_client.post(
        url,
        {
            "workflow": workflow.pk,
            "name": "Upload",
            "file": SimpleUploadedFile("g.csv", GOOD_CSV),
            "format": "auto",
        },
    )
    assert good.status_code == 302 and EvalDataset.objects.get(slug="upload").items.count() == 2
    assert EvalSuiteRun.objects.count() == 0
