"""Every role against every sensitive action, through the admin and the decision service.

Publishing goes through the run page's real Publish and Unpublish pages: allowed means the
page offered the button and its POST recorded the press.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import RequestFactory
from django.urls import reverse

from approvals import services
from approvals.models import ApprovalItem, Decision, ReviewTeam
from publishing.models import PublishRequest
from tests.publishing.conftest import approve, destination_for
from tests.publishing.fakes import provider, provider_process  # noqa: F401 - fixtures
from tests.support.runs import routed_run
from workflows.models import CampaignBrief, ClaimSet, PromptVersion

pytestmark = pytest.mark.django_db

ACTIONS = [
    "start run",
    "edit prompt",
    "edit claims",
    "edit brief",
    "approve prompt version",
    "decide in legal queue",
    "decide in brand queue",
    "decide in lifecycle queue",
    "decide in product marketing queue",
    "view runs",
    "export",
    "publish run",
    "unpublish run",
]
Y, N = True, False
# role (demo user) -> allowed, in ACTIONS order
MATRIX = {
    "ops": [Y, Y, Y, Y, N, N, N, N, N, Y, N, N, N],
    "legal": [N, N, N, N, N, Y, N, N, N, Y, N, N, N],
    "brand": [N, N, N, N, N, N, Y, N, N, Y, N, N, N],
    "lifecycle": [N, N, N, N, N, N, N, Y, N, Y, N, N, N],
    "product": [N, N, N, N, N, N, N, N, Y, Y, N, N, N],
    "manager": [N, N, N, N, N, N, N, N, N, Y, Y, Y, Y],
    "admin": [Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y, Y],
}


@pytest.fixture
def queues(workspace, model_server, reply, valid_email):
    """One open item in each team's queue, on runs started by someone outside every role."""
    starter = get_user_model().objects.create_user("starter", is_staff=True)
    starter.groups.add(Group.objects.get(name="Marketing ops"))
    workspace["users"]["starter"] = starter
    items = {}
    for slug in (
        ReviewTeam.LEGAL,
        ReviewTeam.BRAND,
        ReviewTeam.LIFECYCLE_MARKETING,
        ReviewTeam.PRODUCT_MARKETING,
    ):
        run = routed_run(workspace, model_server, reply, valid_email, user="starter")
        item = ApprovalItem.objects.open().get(run=run)
        item.team = ReviewTeam.objects.get(slug=slug)
        item.save(update_fields=["team"])
        items[slug] = item
    return items


@pytest.fixture
def published(workspace, queues, provider, model_server, reply, valid_email):
    """An approved run started by the starter (no role publishes it as its own), already
    published on approval to a destination without a gate: Unpublish has something to take back."""
    destination_for(workspace, provider, "slack_webhook")
    run = approve(
        routed_run(workspace, model_server, reply, valid_email, user="starter"), workspace
    )
    assert not run.started_by.has_perm("publishing.publish_run")
    assert PublishRequest.objects.filter(run=run).exists()
    return {"run": run, "provider": provider}


def _pressed(client, user, url: str, button: str, action: str, run) -> bool:
    """The confirmation page offers the button and its POST records a press by ``user``.

    Allowed means the page acted, not only rendered; a page that offers the button without
    acting, or acts without offering it, is a failure of its own.
    """
    page = client.get(url)
    offered = page.status_code == 200 and f'name="{button}"' in page.content.decode()
    before = PublishRequest.objects.filter(run=run, action=action, requested_by=user).count()
    client.post(url, {"reason": f"{action} by {user}", button: button})
    acted = (
        PublishRequest.objects.filter(run=run, action=action, requested_by=user).count() > before
    )
    assert offered == acted, f"{user} / {action}: offered {offered}, acted {acted}"
    return acted


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def allowed(client, user, action: str, workspace, queues, published) -> bool:
    client.force_login(user)
    workflow = workspace["workflow"]
    if action == "start run":
        return (
            client.get(
                reverse("admin:workflows_workflow_start_run", args=[workflow.pk])
            ).status_code
            == 200
        )
    if action == "edit prompt":
        draft = PromptVersion.objects.filter(status="draft").first()
        page = client.get(reverse("admin:workflows_promptversion_change", args=[draft.pk]))
        return page.status_code == 200 and 'name="_save"' in page.content.decode()
    if action == "edit claims":
        return client.get(reverse("admin:workflows_claimset_add")).status_code == 200
    if action == "edit brief":
        page = client.get(
            reverse("admin:workflows_campaignbrief_change", args=[workspace["brief"].pk])
        )
        return page.status_code == 200 and 'name="_save"' in page.content.decode()
    if action == "approve prompt version":
        return "approve_selected" in admin.site._registry[PromptVersion].get_actions(_request(user))
    if action.startswith("decide in"):
        slug = {
            "legal": "legal",
            "brand": "brand",
            "lifecycle": "lifecycle_marketing",
            "product": "product_marketing",
        }[action.split()[2]]
        return services.refusal_reason(user=user, item=queues[slug]) is None
    if action == "view runs":
        return client.get(reverse("admin:workflows_run_changelist")).status_code == 200
    if action == "export":
        return "export_csv" in admin.site._registry[Decision].get_actions(_request(user))
    if action == "publish run":
        run = published["run"]
        # A high-risk destination of its own, so each press has something new to publish.
        destination_for(
            workspace,
            published["provider"],
            "slack_bot",
            name=f"Gated for {user.username}",
            requires_publish_gate=True,
        )
        url = reverse("admin:workflows_run_publish", args=[run.pk])
        return _pressed(client, user, url, "_publish", "publish", run)
    if action == "unpublish run":
        run = published["run"]
        url = reverse("admin:workflows_run_unpublish", args=[run.pk])
        return _pressed(client, user, url, "_unpublish", "unpublish", run)
    raise AssertionError(action)


def test_every_role_against_every_sensitive_action(client, workspace, queues, published):
    PromptVersion.objects.create(
        template=workspace["workflow"].prompt_template,
        system_prompt="s",
        user_template="u",
        output_schema={"type": "object"},
    )
    got = {
        role: [
            allowed(
                client,
                get_user_model().objects.get(username=role),
                action,
                workspace,
                queues,
                published,
            )
            for action in ACTIONS
        ]
        for role in MATRIX
    }
    differences = [
        f"{role} / {action}: expected {'allow' if want else 'deny'}"
        for role in MATRIX
        for action, want, have in zip(ACTIONS, MATRIX[role], got[role], strict=True)
        if want != have
    ]
    assert not differences, differences


def test_reviewer_roles_cannot_change_prompts_claims_or_briefs(workspace):
    for username in ("legal", "brand", "lifecycle", "product", "manager"):
        user = get_user_model().objects.get(username=username)
        for model in (PromptVersion, ClaimSet, CampaignBrief):
            assert not user.has_perm(f"workflows.change_{model._meta.model_name}"), (
                username,
                model,
            )
            assert not user.has_perm(f"workflows.add_{model._meta.model_name}"), (username, model)
