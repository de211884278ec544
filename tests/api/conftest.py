"""What the API tests share: tokens for the workspace's people and a client that sends them."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from api import services
from api.models import ApiToken


def issue_token(user, **fields) -> str:
    return services.api_token_issue(token=ApiToken(user=user, name="tests", **fields), by=None)


def client_with(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    """The throttle counts requests in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_as(workspace):
    """``api_as("ops")``: a client sending a fresh token of that workspace user."""

    def make(username: str) -> APIClient:
        return client_with(issue_token(workspace["users"][username]))

    return make
