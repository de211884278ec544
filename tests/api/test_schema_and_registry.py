"""The OpenAPI schema validates, the docs page is offline, and every API view is guarded."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from api.authentication import BearerTokenAuthentication
from api.permissions import HasRequiredPermissions
from api.throttling import TokenRateThrottle

# Served without a token: they describe the API and hold no data (docs/api.md).
PUBLIC = {"api:schema", "api:docs"}


def api_views():
    """(name, view class, example path) of every URL under /api/."""
    [api] = [
        p
        for p in get_resolver().url_patterns
        if isinstance(p, URLResolver) and p.namespace == "api"
    ]
    for pattern in api.url_patterns:
        assert isinstance(pattern, URLPattern)
        path = "/api/" + re.sub(r"<int:\w+>", "1", re.sub(r"<slug:\w+>", "x", str(pattern.pattern)))
        yield f"api:{pattern.name}", pattern.callback.view_class, path


def test_every_api_view_but_the_schema_and_docs_needs_a_token_permissions_and_is_throttled():
    names = set()
    for name, view, _ in api_views():
        names.add(name)
        if name in PUBLIC:
            continue
        assert issubclass(view, APIView), name
        assert view.authentication_classes == [BearerTokenAuthentication], name
        assert view.permission_classes == [HasRequiredPermissions], name
        assert view.throttle_classes == [TokenRateThrottle], name
        methods = {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view, m)}
        assert methods and methods <= set(view.required_permissions), name
        assert all(view.required_permissions[m] for m in methods), name
    assert len(names) >= 10


@pytest.mark.django_db
def test_every_guarded_endpoint_answers_401_json_without_a_token(client):
    for name, view, path in api_views():
        if name in PUBLIC:
            continue
        for method in ("get", "post"):
            if hasattr(view, method):
                response = getattr(client, method)(path, {}, content_type="application/json")
                assert response.status_code == 401, (name, method)
                assert response.json()["code"] == "not_authenticated"


def test_the_schema_validates_against_the_openapi_specification(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    assert "/api/v1/workflows/{slug}/production-prompt/" in text
    assert "bearerToken" in text


@pytest.mark.django_db
def test_the_schema_is_served_as_json(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    assert "/api/v1/runs/" in schema["paths"]
    assert client.get("/api/schema/?format=json").json() == schema


@pytest.mark.django_db
def test_the_docs_page_loads_nothing_from_another_site(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui-bundle.js" in html and "/static/drf_spectacular_sidecar/" in html
    assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", html, re.I), re.findall(
        r"(?:https?:)?//[^\s\"']+", html
    )
