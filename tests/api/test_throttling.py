"""Requests are counted per token, at the rate MARKETINGAI_API_RATE sets."""

from __future__ import annotations

import pytest

from tests.api.conftest import client_with, issue_token

pytestmark = pytest.mark.django_db

URL = "/api/v1/workflows/trial_expiration_email/production-prompt/"


def test_a_token_over_its_rate_gets_429_and_another_token_is_not_held_back(workspace, settings):
    settings.MARKETINGAI_API_RATE = "3/min"
    ops = workspace["users"]["ops"]
    first, second = client_with(issue_token(ops)), client_with(issue_token(ops))
    assert [first.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    throttled = first.get(URL)
    assert throttled.status_code == 429
    body = throttled.json()
    assert body["code"] == "throttled" and 0 < body["retry_after"] <= 60
    assert int(throttled["Retry-After"]) <= 60
    assert second.get(URL).status_code == 200


def test_an_empty_rate_turns_throttling_off(workspace, settings):
    settings.MARKETINGAI_API_RATE = ""
    client = client_with(issue_token(workspace["users"]["ops"]))
    assert {client.get(URL).status_code for _ in range(5)} == {200}
