"""Gates that hold: separation of duties on real identities, and data-contract inputs nobody edits by hand.

Authors are everyone who saved a draft; nobody approves or decides what they wrote, nor an item
they escalated; commands name who acted (``--user`` or the service account); recipients and a
segment's freshness change only through imports and pulls.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from approvals import services as approvals
from approvals.models import ApprovalItem, ReviewTeam
from evals import services as evals
from evals.models import EvalSuiteRun, PromotionRequest
from inputs.models import AudienceImport, Recipient
from tests.factories.evals import eval_dataset
from tests.factories.workspace import candidate
from tests.support.approvals import open_item
from tests.support.runs import routed_run
from workflows.models import (
    AudienceSegment,
    Claim,
    ClaimSet,
    PromptVersion,
    Run,
    VersionedArtifact,
    with_history_context,
)

pytestmark = pytest.mark.django_db

# Every concrete versioned document: a new one is covered without a new test.
VERSIONED_MODELS = sorted(
    (m for m in apps.get_models() if issubclass(m, VersionedArtifact) and not m._meta.abstract),
    key=lambda m: m._meta.label,
)


def _fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def _edit_as(obj, user, **changes):
    for name, value in changes.items():
        setattr(obj, name, value)
    with_history_context(obj, by=user, reason=f"Edited by {user}")
    obj.save()


# --- Authors: everyone who saved the draft ---------------------------------------------------------


def test_the_walk_finds_every_versioned_document():
    labels = {m._meta.label for m in VERSIONED_MODELS}
    assert {
        "workflows.ClaimSet",
        "workflows.BrandRules",
        "workflows.LegalRestrictionSet",
        "workflows.PromptVersion",
        "evals.Rubric",
    } <= labels


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=lambda m: m._meta.label)
def test_neither_the_creator_nor_a_later_editor_may_approve_a_version(workspace, model):
    users = workspace["users"]
    in_force = model.objects.approved().order_by("-version").first()
    assert in_force is not None, (
        f"The demo has no approved {model._meta.verbose_name}: give it one so this gate is tested."
    )
    draft = in_force.new_draft(by=users["ops"])
    _edit_as(draft, users["manager"], changelog="Second pair of hands")

    for author in ("ops", "manager"):
        with pytest.raises(
            ValidationError,
            match=f"{author} wrote or edited {draft}: a second person must approve it",
        ):
            draft.approve(by=users[author])
        assert model.objects.get(pk=draft.pk).status == "draft"
    assert draft.author_ids() == {users["ops"].pk, users["manager"].pk}

    draft.approve(by=users["admin"])
    assert model.objects.get(pk=draft.pk).approved_by == users["admin"]


def test_whoever_changed_a_claim_of_a_draft_claim_set_is_one_of_its_authors(workspace):
    users = workspace["users"]
    draft = ClaimSet.objects.latest_approved().new_draft(by=users["ops"])
    claim = Claim(claim_set=draft, key="new-claim", text="Boards load in under a second.")
    with_history_context(claim, by=users["legal"], reason="Added a claim")
    claim.save()

    with pytest.raises(ValidationError, match="legal wrote or edited"):
        draft.approve(by=users["legal"])
    draft.approve(by=users["admin"])


def test_approving_needs_a_named_person(workspace):
    draft = ClaimSet.objects.latest_approved().new_draft(by=workspace["users"]["ops"])
    with pytest.raises(ValidationError, match="needs a named person"):
        draft.approve(by=None)


def _post_prompt_edit(client, draft, **changes):
    data = {
        "template": draft.template_id,
        "changelog": draft.changelog,
        "model_name": draft.model_name,
        "temperature": str(draft.temperature),
        "max_tokens": str(draft.max_tokens),
        "system_prompt": draft.system_prompt,
        "user_template": draft.user_template,
        "output_schema": json.dumps(draft.output_schema),
        "_save": "Save",
        **changes,
    }
    return client.post(reverse("admin:workflows_promptversion_change", args=[draft.pk]), data)


def test_a_second_editor_of_a_draft_prompt_can_neither_approve_it_nor_decide_runs_on_it(
    client, workspace, model_server, reply, valid_email
):
    users, workflow = workspace["users"], workspace["workflow"]
    admin = users["admin"]
    draft = workflow.production_version.new_draft(by=users["ops"])
    client.force_login(admin)

    response = _post_prompt_edit(
        client,
        draft,
        changelog="Tightened by the admin",
        system_prompt=draft.system_prompt + "\n- Be brief.",
    )
    assert response.status_code == 302
    assert draft.history.filter(history_type="~").first().history_user == admin

    response = client.post(
        reverse("admin:workflows_promptversion_changelist"),
        {"action": "approve_selected", "_selected_action": [draft.pk]},
        follow=True,
    )
    assert "admin wrote or edited" in response.content.decode()
    assert PromptVersion.objects.get(pk=draft.pk).status == "draft"

    second_admin = get_user_model().objects.create_superuser(
        "second-admin", "second@example.com", "x-unused-2"
    )
    client.force_login(second_admin)
    client.post(
        reverse("admin:workflows_promptversion_changelist"),
        {"action": "approve_selected", "_selected_action": [draft.pk]},
    )
    draft.refresh_from_db()
    assert (draft.status, draft.approved_by) == ("approved", second_admin)
    workflow.pin_production_version(
        draft, by=second_admin, reason="Test: the edited draft serves production"
    )

    run = routed_run(workspace, model_server, reply, valid_email, user="ops")
    assert run.prompt_version == draft
    item = open_item(run)
    assert approvals.refusal_reason(user=admin, item=item) == (
        f"You wrote {draft.label}, which {run.run_id} ran on, so someone else must decide it."
    )
    assert approvals.refusal_reason(user=second_admin, item=item) is None


def test_an_editor_of_a_prompt_version_may_not_approve_its_promotion(workspace):
    users, workflow = workspace["users"], workspace["workflow"]
    draft = workflow.production_version.new_draft(by=users["ops"])
    _edit_as(draft, users["manager"], changelog="Edited by the manager")
    draft.approve(by=users["admin"])
    request = PromotionRequest(workflow=workflow, version=draft, requested_by=users["ops"])

    assert (
        request.refusal(users["manager"])
        == f"manager wrote {draft.label}: a second person must approve its promotion."
    )


# --- Escalation hands the run to someone else ------------------------------------------------------


def test_a_superuser_who_escalates_an_item_cannot_decide_the_item_it_escalated_to(
    client, workspace, model_server, reply, valid_email
):
    users = workspace["users"]
    run = routed_run(workspace, model_server, reply, valid_email, user="ops")
    brand = ReviewTeam.objects.get(slug=ReviewTeam.BRAND)
    client.force_login(users["admin"])

    response = client.post(
        reverse("admin:approvals_reviewqueueitem_change", args=[open_item(run).pk]),
        {"decision": "escalate", "note": "Brand should see the tone.", "escalate_to": brand.pk},
    )
    assert response.status_code == 302
    escalated = open_item(run)
    assert escalated.team == brand

    response = client.post(
        reverse("admin:approvals_reviewqueueitem_change", args=[escalated.pk]),
        {"decision": "approve", "note": ""},
    )
    assert "You already decided" in response.content.decode()
    assert ApprovalItem.objects.get(pk=escalated.pk).is_open
    with pytest.raises(
        CommandError,
        match=f"You already decided {run.run_id} in the Lifecycle marketing queue \\(escalate to team\\)",
    ):
        call_command("decide_item", str(escalated.pk), "--decision", "approve", "--user", "admin")

    approvals.item_decide(item_id=escalated.pk, decision="approve", reviewer=users["brand"])
    run.refresh_from_db()
    assert run.status == Run.Status.APPROVED


# --- Who acted: --user, or the service account ---------------------------------------------------


def test_run_workflow_without_user_records_the_service_account(
    workspace, service_account, model_server, reply, valid_email
):
    model_server.push(reply.json(valid_email))

    call_command("run_workflow", "trial_expiration_email", "--sync", "--fresh")

    run = Run.objects.order_by("-pk").first()
    assert run.started_by == service_account
    assert run.history.order_by("history_date").first().history_user == service_account
    # The service account started it, so it is excluded from deciding it like any starter.
    assert approvals.refusal_reason(user=service_account, item=open_item(run)) is not None


@pytest.mark.parametrize(
    ("configured", "message"),
    [
        (
            "",
            "No user was named and no service account is configured: pass --user NAME, or set MARKETINGAI_SERVICE_USER",
        ),
        ("ghost", "The service account 'ghost' \\(MARKETINGAI_SERVICE_USER\\) does not exist"),
    ],
)
def test_a_command_without_user_refuses_clearly_when_no_service_account_can_act(
    workspace, settings, configured, message
):
    settings.MARKETINGAI_SERVICE_USER = configured
    runs = Run.objects.count()

    with pytest.raises(CommandError, match=message):
        call_command("run_workflow", "trial_expiration_email", "--sync")
    assert Run.objects.count() == runs


def test_decide_item_names_its_reviewer(workspace, model_server, reply, valid_email):
    run = routed_run(workspace, model_server, reply, valid_email, user="ops")
    with pytest.raises(CommandError, match="--user"):
        call_command("decide_item", str(open_item(run).pk), "--decision", "approve")

    call_command(
        "decide_item", str(open_item(run).pk), "--decision", "approve", "--user", "lifecycle"
    )
    assert ApprovalItem.objects.get(run=run).decision.reviewer == workspace["users"]["lifecycle"]


def test_the_service_account_never_approves_or_decides_even_as_a_superuser(
    workspace, service_account, model_server, reply, valid_email
):
    service_account.is_superuser = True
    service_account.save()
    bot = _fresh(service_account)
    run = routed_run(workspace, model_server, reply, valid_email, user="ops")
    draft = ClaimSet.objects.latest_approved().new_draft(by=workspace["users"]["ops"])

    assert "is the service account" in approvals.refusal_reason(user=bot, item=open_item(run))
    with pytest.raises(ValidationError, match="is the service account"):
        draft.approve(by=bot)
    request = PromotionRequest(
        workflow=workspace["workflow"],
        version=workspace["workflow"].production_version,
        requested_by=workspace["users"]["ops"],
    )
    assert "is the service account" in request.refusal(bot)


def test_the_suite_sweeper_acts_as_the_service_account(workspace, service_account):
    eval_dataset(workflow=workspace["workflow"])
    stuck = evals.suite_start(
        workflow=workspace["workflow"],
        candidate=candidate(workspace),
        started_by=workspace["users"]["ops"],
        enqueue=False,
    )
    EvalSuiteRun.objects.filter(pk=stuck.pk).update(created_at=timezone.now() - timedelta(hours=6))

    call_command("fail_stuck_suites")

    latest = stuck.history.order_by("-history_date").first()
    assert (latest.status, latest.history_user) == ("failed", service_account)


def test_system_checks_report_a_missing_service_account(db, settings):
    from workflows.checks import check_service_account_configured, check_service_account_exists

    settings.MARKETINGAI_SERVICE_USER = ""
    assert [m.id for m in check_service_account_configured()] == ["workflows.W030"]
    settings.MARKETINGAI_SERVICE_USER = "ghost"
    assert check_service_account_configured() == []
    assert [m.id for m in check_service_account_exists(databases=["default"])] == ["workflows.E030"]
    get_user_model().objects.create_user("ghost")
    assert check_service_account_exists(databases=["default"]) == []


# --- Recipients and freshness change only through imports and pulls -------------------------------


@pytest.mark.parametrize("username", ["ops", "admin"])
def test_nobody_adds_changes_or_deletes_a_recipient_in_the_admin(
    client, audience_workspace, username
):
    workspace = audience_workspace
    recipient = Recipient.objects.filter(consent=Recipient.Consent.OPTED_IN).first()
    stored = Recipient.objects.filter(pk=recipient.pk).values().get()
    client.force_login(workspace["users"][username])
    change_url = reverse("admin:inputs_recipient_change", args=[recipient.pk])

    page = client.get(change_url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    response = client.post(
        change_url,
        {
            "customer_id": recipient.customer_id,
            "email": recipient.email,
            "consent": Recipient.Consent.OPTED_OUT,
            "usage_as_of_0": "2030-01-01",
            "usage_as_of_1": "00:00:00",
            "attributes": "{}",
            "_save": "Save",
        },
    )
    assert response.status_code == 403
    assert client.get(reverse("admin:inputs_recipient_add")).status_code == 403
    assert (
        client.post(
            reverse("admin:inputs_recipient_delete", args=[recipient.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert Recipient.objects.filter(pk=recipient.pk).values().get() == stored


def test_a_stored_recipient_cannot_be_saved_with_new_values(audience_workspace):
    recipient = Recipient.objects.first()
    recipient.consent = Recipient.Consent.OPTED_OUT
    with pytest.raises(ValidationError, match="import or pull a new snapshot"):
        recipient.save()


def test_a_segments_refreshed_at_is_not_editable_in_the_admin(client, workspace):
    refreshed = timezone.now() - timedelta(days=3)
    segment = AudienceSegment.objects.create(
        slug="fresh-one", name="Fresh one", refreshed_at=refreshed
    )
    client.force_login(workspace["users"]["ops"])
    url = reverse("admin:workflows_audiencesegment_change", args=[segment.pk])

    assert 'name="refreshed_at_0"' not in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "slug": segment.slug,
            "name": "Fresh one, renamed",
            "description": "",
            "source": "cdp",
            "refreshed_at_0": timezone.localdate().isoformat(),
            "refreshed_at_1": "00:00:00",
            "http_source-TOTAL_FORMS": "0",
            "http_source-INITIAL_FORMS": "0",
            "http_source-MIN_NUM_FORMS": "0",
            "http_source-MAX_NUM_FORMS": "1",
            "_save": "Save",
        },
    )
    assert response.status_code == 302
    segment.refresh_from_db()
    assert (segment.name, segment.refreshed_at) == ("Fresh one, renamed", refreshed)


def test_a_segments_refreshed_at_moves_only_through_an_import_or_a_pull(workspace):
    segment = AudienceSegment.objects.create(
        slug="manual", name="Manual", refreshed_at=timezone.now() - timedelta(days=3)
    )
    segment.refreshed_at = timezone.now()
    with pytest.raises(ValidationError, match="refreshed only by importing or pulling"):
        segment.save()


@pytest.mark.parametrize("named", [True, False], ids=["with --user", "service account"])
def test_an_import_records_who_imported_when_and_from_which_file(
    workspace, service_account, tmp_path, named
):
    segment = AudienceSegment.objects.create(slug="imported-here", name="Imported here")
    path = tmp_path / "november_trials.csv"
    path.write_text(
        "customer_id,email,consent\nc1,a@example.com,in\nc2,b@example.com,out\n", encoding="utf-8"
    )
    actor = workspace["users"]["ops"] if named else service_account

    call_command("import_audience", segment.slug, str(path), *(["--user", "ops"] if named else []))

    record = AudienceImport.objects.get(segment=segment)
    assert (record.imported_by, record.source_name, record.status) == (
        actor,
        "november_trials.csv",
        "imported",
    )
    import_row = record.history.get()
    assert (
        import_row.history_user == actor
        and "november_trials.csv" in import_row.history_change_reason
    )
    segment_row = segment.history.order_by("-history_date").first()
    assert (
        segment_row.history_user == actor
        and "from november_trials.csv" in segment_row.history_change_reason
    )
    assert segment_row.refreshed_at == record.imported_at
    assert set(
        Recipient.objects.filter(segment=segment).values_list("audience_import", flat=True)
    ) == {record.pk}
