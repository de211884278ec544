"""Every registered history admin x every role: a revert changes only what the change form may change.

A role that may not change the object changes nothing (403, or a refusal for a frozen object); a role that
may change it saves the form's fields and no other field takes the old row's value.

Walks ``admin.site._registry``, so a model registered later is covered without a new test.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from simple_history.admin import SimpleHistoryAdmin

from analytics.imports import analytics_import_rows
from analytics.models import PerformanceReviewSettings
from tests.factories.analytics import ad_rows
from tests.factories.evals import CampaignOutcomeFactory, PromotionCriteriaFactory, eval_dataset
from tests.factories.users import TEAM
from tests.support.history_forms import history_url, revert_form_data, stored_row
from workflows import services
from workflows.models import with_history_context

pytestmark = pytest.mark.django_db

MUST_COVER = {
    "workflows.Run",
    "workflows.Workflow",
    "approvals.RoutingRule",
    "approvals.ReviewTeam",
    "evals.PromotionCriteria",
    "workflows.PromptVersion",
    "workflows.ClaimSet",
    "analytics.PerformanceReviewSettings",
    "analytics.AnalyticsImport",
}
MARK = " (reverted)"


def _objects_with_history(model) -> list:
    """The first object with history, plus the first frozen and first unfrozen one where the model has both."""
    ids = model.history.values_list(model._meta.pk.attname, flat=True).distinct()
    objects = list(model._default_manager.filter(pk__in=ids).order_by("pk"))
    picked = objects[:1]
    if hasattr(model, "is_frozen"):
        picked += [
            next((o for o in objects if o.is_frozen is frozen), None) for frozen in (True, False)
        ]
    return list({o.pk: o for o in picked if o is not None}.values())


def _mark_a_text_field(model, data: dict[str, list[str]]) -> None:
    """Alter one plain text field of the posted data, so a saved revert always shows."""
    for field in model._meta.concrete_fields:
        plain = (
            field.get_internal_type() in {"CharField", "TextField"}
            and not field.choices
            and not field.unique
        )
        if (
            plain
            and field.name in data
            and (
                field.max_length is None or len(data[field.name][0]) + len(MARK) <= field.max_length
            )
        ):
            data[field.name] = [data[field.name][0] + MARK]
            return


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_every_history_admin_refuses_reverts_the_role_may_not_make(client, audience_workspace):
    users = {name: get_user_model().objects.get(username=name) for name in TEAM}
    covered, refused, saved, problems = set(), 0, 0, []
    # Rows of the eval models the workspace leaves out, so their history admins are walked too.
    workflow = audience_workspace["workflow"]
    PromotionCriteriaFactory(workflow=workflow, history_user=users["admin"])
    eval_dataset(workflow=workflow, by=users["ops"])
    CampaignOutcomeFactory(prompt_version=workflow.production_version, imported_by=users["ops"])
    # And the analytics app's: a workflow's review settings and an import.
    review_settings = PerformanceReviewSettings(workflow=workflow)
    with_history_context(review_settings, by=users["ops"], reason="Test data")
    review_settings.save()
    analytics_import_rows(
        workflow=workflow,
        rows=ad_rows("li_1", [date(2026, 11, 28)], impressions=100, clicks=1),
        source_name="test.csv",
        imported_by=users["ops"],
    )
    # A run and its trace have history too (read-only audit data).
    services.run_start(
        workflow=audience_workspace["workflow"],
        brief=audience_workspace["brief"],
        started_by=users["ops"],
        enqueue=False,
    )
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, SimpleHistoryAdmin):
            continue
        for obj in _objects_with_history(model):
            row = obj.history.earliest("history_date")
            client.force_login(users["admin"])
            data = revert_form_data(client, obj, row.history_id)
            _mark_a_text_field(model, data)
            covered.add(model._meta.label)
            for role, user in users.items():
                current = model._default_manager.get(pk=obj.pk)
                may_change = model_admin.has_change_permission(
                    _request(user), current
                ) and not getattr(current, "is_frozen", False)
                # Fields no change form edits (status, pin, approver, version...): simple-history would write the old row's.
                outside_form = [
                    f.attname
                    for f in model._meta.concrete_fields
                    if not f.editable
                    and f.name not in model_admin.get_form(_request(user), current).base_fields
                ]
                before, history_rows = stored_row(current), current.history.count()
                client.force_login(user)
                response = client.post(history_url(current, row.history_id), data)
                after = stored_row(current)
                where = f"{model._meta.label} {obj.pk} as {role}"
                if may_change:
                    if response.status_code != 302 or response["Location"].rstrip("/").endswith(
                        "/history"
                    ):
                        errors = (
                            response.context["adminform"].form.errors if response.context else ""
                        )
                        problems.append(
                            f"{where}: may change, but the revert was not saved ({response.status_code} {errors})"
                        )
                    # None took the old row's value (a counter such as a policy's version may move on).
                    took = [
                        f
                        for f in outside_form
                        if getattr(row, f) != before[f] and after[f] == getattr(row, f)
                    ]
                    if took:
                        problems.append(
                            f"{where}: the revert wrote the old row's {', '.join(took)}"
                        )
                    saved += 1
                else:
                    if after != before or current.history.count() != history_rows:
                        problems.append(
                            f"{where}: may not change it, but the revert changed it ({response.status_code})"
                        )
                    elif response.status_code not in (302, 403):
                        problems.append(f"{where}: refused with {response.status_code}")
                    refused += 1
    assert not problems, problems
    assert MUST_COVER <= covered, MUST_COVER - covered
    assert refused and saved, (refused, saved)
