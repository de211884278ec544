"""Two reviewers decide the same item at the same moment, each on its own database connection."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from approvals import services
from approvals.models import ApprovalItem, Decision
from tests.support.approvals import open_item, with_unsupported_claim
from tests.support.runs import routed_run
from workflows.models import Run


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_deciding_at_once_store_exactly_one_decision(
    workspace, model_server, reply, valid_email
):
    run = routed_run(workspace, model_server, reply, with_unsupported_claim(valid_email))
    item = open_item(run)
    second = get_user_model().objects.create_user("legal2", is_staff=True)
    second.groups.add(Group.objects.get(name="Legal reviewers"))
    reviewers = {"approve": workspace["users"]["legal"], "reject": second}
    barrier = threading.Barrier(len(reviewers))
    results: dict[str, object] = {}

    def decide(kind: str) -> None:
        try:
            barrier.wait(timeout=10)
            results[kind] = services.item_decide(
                item_id=item.pk,
                decision=kind,
                reviewer=reviewers[kind],
                note="" if kind == "approve" else "Unsupported claim.",
            ).decision
        except ValidationError as exc:
            results[kind] = exc
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=decide, args=(kind,)) for kind in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Decision.objects.count() == 1
    stored = Decision.objects.select_related("reviewer").get()
    loser = "reject" if stored.decision == "approve" else "approve"
    assert isinstance(results[stored.decision], Decision)
    message = " ".join(results[loser].messages)
    assert message.startswith(
        f"This item was already decided by {stored.reviewer} ({stored.get_decision_display().lower()}) at "
    )
    assert message.endswith("your decision was not recorded.")
    run.refresh_from_db()
    assert (
        run.status
        == {"approve": Run.Status.APPROVED, "reject": Run.Status.REJECTED}[stored.decision]
    )
    assert ApprovalItem.objects.get(pk=item.pk).status in {"approved", "rejected"}


@pytest.mark.django_db
def test_the_database_holds_at_most_one_decision_per_item(
    workspace, model_server, reply, valid_email
):
    item = open_item(routed_run(workspace, model_server, reply, valid_email))
    Decision(item=item, decision="approve", reviewer=workspace["users"]["lifecycle"]).save()

    with pytest.raises(IntegrityError), transaction.atomic():
        Decision(
            item=item, decision="reject", reviewer=workspace["users"]["admin"], note="no"
        ).save()
