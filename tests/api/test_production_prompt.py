"""GET /api/v1/workflows/{slug}/production-prompt/: the pinned version, with a strong ETag."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.factories.workspace import candidate

pytestmark = pytest.mark.django_db

URL = "/api/v1/workflows/{}/production-prompt/"


def test_the_production_prompt_is_served_with_its_content_hash_as_a_strong_etag(
    workspace, api_as, settings
):
    prompt = workspace["prompt"]
    response = api_as("ops").get(URL.format(workspace["workflow"].slug))
    assert response.status_code == 200
    body = response.json()
    assert body["version"] == prompt.label and body["version_number"] == prompt.version
    assert body["system_prompt"] == prompt.system_prompt
    assert body["user_template"] == prompt.user_template
    assert body["output_schema"] == prompt.output_schema
    assert body["model"] == {
        "name": prompt.model_name or settings.MARKETINGAI_LLM["MODEL"],
        "temperature": float(prompt.temperature),
        "max_tokens": prompt.max_tokens,
    }
    content = {k: v for k, v in body.items() if k != "content_hash"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert body["content_hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert response["ETag"] == f'"{body["content_hash"]}"'  # strong: no W/
    assert "no-cache" in response["Cache-Control"]


def test_if_none_match_with_the_current_etag_answers_304_without_a_body(workspace, api_as):
    client = api_as("ops")
    url = URL.format(workspace["workflow"].slug)
    etag = client.get(url)["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        response = client.get(url, HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 304, header
        assert response.content == b"" and response["ETag"] == etag
    assert client.get(url, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_promoting_another_version_changes_the_etag(workspace, api_as):
    client = api_as("ops")
    url = URL.format(workspace["workflow"].slug)
    old = client.get(url)["ETag"]
    v8 = candidate(workspace, system_prompt="Write shorter emails.")
    workspace["workflow"].pin_production_version(v8, by=workspace["users"]["admin"], reason="test")
    response = client.get(url, HTTP_IF_NONE_MATCH=old)
    assert response.status_code == 200
    assert response.json()["version"] == v8.label and response["ETag"] != old


def test_unknown_workflows_and_unpinned_ones_get_404_and_no_permission_403(workspace, api_as):
    from tests.factories.workflows import WorkflowFactory

    client = api_as("ops")
    assert client.get(URL.format("nothing")).status_code == 404
    WorkflowFactory(slug="unpinned", prompt_template=workspace["prompt"].template)
    response = client.get(URL.format("unpinned"))
    assert response.status_code == 404
    assert response.json()["error"] == "unpinned has no production prompt version pinned."
    from tests.api.conftest import client_with, issue_token
    from tests.factories.users import UserFactory

    nobody = client_with(issue_token(UserFactory(username="nobody")))
    response = nobody.get(URL.format(workspace["workflow"].slug))
    assert (
        response.status_code == 403 and "workflows.view_promptversion" in response.json()["error"]
    )
