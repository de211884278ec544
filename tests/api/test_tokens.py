"""Personal API tokens: hashed, shown once, expiring, revocable; a token acts as its user."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from api import services
from api.models import ApiToken, token_hash
from tests.api.conftest import client_with, issue_token
from tests.factories.users import SuperuserFactory, UserFactory

pytestmark = pytest.mark.django_db

RUN_URL = "/api/v1/runs/1/"


def test_only_the_hash_of_a_token_is_stored(workspace):
    secret = issue_token(workspace["users"]["ops"])
    token = ApiToken.objects.get()
    assert secret.startswith(f"mai_{token.prefix}_")
    assert token.secret_hash == token_hash(secret)
    stored = [str(v) for v in ApiToken.objects.values().get().values()]
    assert not any(secret in value or secret.split("_", 2)[2] in value for value in stored)
    assert token.history.get().history_change_reason.startswith(f"Token {token.display_prefix}")


def test_a_request_without_a_token_gets_401_json_naming_the_header():
    response = client_with(None).get(RUN_URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"] == "Send a personal API token: 'Authorization: Bearer <token>'."


@pytest.mark.parametrize(
    "header",
    ["Bearer mai_nope_nothing", "Bearer not-a-token", "Bearer two words", "Bearer"],
)
def test_an_unknown_or_malformed_token_gets_401(workspace, header):
    issue_token(workspace["users"]["ops"])
    from rest_framework.test import APIClient

    response = APIClient().get(RUN_URL, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_a_token_with_the_right_prefix_but_a_wrong_secret_is_refused(workspace):
    secret = issue_token(workspace["users"]["ops"])
    forged = secret[:-4] + ("aaaa" if not secret.endswith("aaaa") else "bbbb")
    response = client_with(forged).get(RUN_URL)
    assert response.status_code == 401
    assert response.json()["error"] == "This API token is not valid."


def test_an_expired_token_gets_401_saying_when_it_expired(workspace):
    secret = issue_token(workspace["users"]["ops"])
    expired_at = timezone.now() - timedelta(minutes=5)
    ApiToken.objects.update(expires_at=expired_at)
    response = client_with(secret).get(RUN_URL)
    assert response.status_code == 401
    assert "expired at" in response.json()["error"]


def test_a_revoked_token_gets_401_and_revoking_twice_is_refused(workspace):
    admin = workspace["users"]["admin"]
    secret = issue_token(workspace["users"]["ops"])
    token = ApiToken.objects.get()
    assert client_with(secret).get("/api/v1/review-queue/").status_code == 403  # ops: no queue
    services.api_token_revoke(token=token, by=admin)
    response = client_with(secret).get("/api/v1/review-queue/")
    assert response.status_code == 401
    assert "was revoked at" in response.json()["error"]
    with pytest.raises(Exception, match="already revoked"):
        services.api_token_revoke(token=token, by=admin)
    token.refresh_from_db()
    assert token.revoked_by == admin
    assert token.history.first().history_user == admin


def test_a_token_of_an_inactive_user_gets_401(workspace):
    ops = workspace["users"]["ops"]
    secret = issue_token(ops)
    ops.is_active = False
    ops.save()
    response = client_with(secret).get(RUN_URL)
    assert response.status_code == 401
    assert "inactive" in response.json()["error"]


def test_a_token_records_when_it_was_last_used(workspace):
    secret = issue_token(workspace["users"]["ops"])
    assert ApiToken.objects.get().last_used_at is None
    client_with(secret).get(RUN_URL)
    assert ApiToken.objects.get().last_used_at is not None


def test_create_api_token_prints_the_token_alone_on_its_last_line(workspace, capsys):
    call_command("create_api_token", "ops", "--expires-days", "30")
    lines = capsys.readouterr().out.strip().splitlines()
    token = ApiToken.objects.get()
    assert lines[-1].startswith(f"mai_{token.prefix}_") and " " not in lines[-1]
    assert token.user == workspace["users"]["ops"]
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert (
        client_with(lines[-1]).get("/api/v1/workflows/nothing/production-prompt/").status_code
        == 404
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (["nobody"], "There is no user 'nobody'."),
        (["ops", "--expires-days", "0"], "A token expires after 1 to 3650 days."),
    ],
)
def test_create_api_token_refuses_bad_input_in_one_sentence(workspace, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", *args)
    assert not ApiToken.objects.exists()


def test_the_admin_shows_a_new_token_once_and_never_again(client, workspace):
    admin = workspace["users"]["admin"]
    client.force_login(admin)
    response = client.post(
        reverse("admin:api_apitoken_add"),
        {"user": workspace["users"]["ops"].pk, "name": "CRM sync", "expires_in_days": "90"},
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    page = response.content.decode()
    secret = page.split('id="api-token" type="text" readonly size="70" value="')[1].split('"')[0]
    assert secret.startswith(f"mai_{token.prefix}_") and token.matches(secret)
    assert "no-store" in response["Cache-Control"]
    assert token.user == workspace["users"]["ops"] and token.expires_at is not None
    for url in (
        reverse("admin:api_apitoken_change", args=[token.pk]),
        reverse("admin:api_apitoken_changelist"),
        reverse("admin:api_apitoken_history", args=[token.pk]),
    ):
        assert secret not in client.get(url).content.decode()
    assert client_with(secret).get(RUN_URL).status_code == 404  # authenticated: no run 1


def test_the_admin_revokes_tokens_with_an_action(client, workspace):
    admin = workspace["users"]["admin"]
    secret = issue_token(workspace["users"]["ops"])
    token = ApiToken.objects.get()
    client.force_login(admin)
    client.post(
        reverse("admin:api_apitoken_changelist"),
        {"action": "revoke", "_selected_action": [token.pk]},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == admin
    assert client_with(secret).get(RUN_URL).status_code == 401


def test_people_see_and_issue_only_their_own_tokens_and_superusers_everyone(client, db):
    from django.contrib.auth.models import Permission

    person = UserFactory(username="person")
    person.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_apitoken", "view_apitoken"])
    )
    other = UserFactory(username="other")
    issue_token(other)
    client.force_login(person)
    assert "other" not in client.get(reverse("admin:api_apitoken_changelist")).content.decode()
    response = client.post(
        reverse("admin:api_apitoken_add"), {"user": other.pk, "name": "not mine"}
    )
    assert ApiToken.objects.filter(user=other).count() == 1  # refused: not a valid choice
    assert "Select a valid choice" in response.content.decode()
    client.post(reverse("admin:api_apitoken_add"), {"user": person.pk, "name": "mine"})
    assert ApiToken.objects.filter(user=person).count() == 1
    client.force_login(SuperuserFactory())
    assert "other" in client.get(reverse("admin:api_apitoken_changelist")).content.decode()


def test_a_revoked_token_cannot_be_revived_from_its_history(client, workspace):
    admin = workspace["users"]["admin"]
    issue_token(workspace["users"]["ops"])
    token = ApiToken.objects.get()
    services.api_token_revoke(token=token, by=admin)
    first = token.history.order_by("history_date").first()
    client.force_login(admin)
    client.post(
        reverse("admin:api_apitoken_simple_history", args=[token.pk, first.history_id]),
        {"name": token.name},
    )
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_the_token_list_takes_the_same_queries_for_few_and_many_tokens(
    client, workspace, django_assert_max_num_queries
):
    admin = workspace["users"]["admin"]
    client.force_login(admin)
    for _ in range(2):
        issue_token(workspace["users"]["ops"])
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("admin:api_apitoken_changelist"))
    for _ in range(20):
        issue_token(workspace["users"]["legal"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("admin:api_apitoken_changelist"))
