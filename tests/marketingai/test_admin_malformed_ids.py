"""Every admin page that takes an id in its URL answers a malformed one as a missing object
(404, or Django's own redirect with "doesn't exist"), never with a server error."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

pytestmark = pytest.mark.django_db

MALFORMED = "not-a-number"


def id_urls():
    """(name, url) of each registered admin's history pages, and the other pages taking an id."""
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        for suffix, args in (
            ("_history", [MALFORMED]),
            ("_simple_history", [MALFORMED, "1"]),
            ("_simple_history", ["1", MALFORMED]),
        ):
            try:
                yield prefix + suffix, reverse(prefix + suffix, args=args)
            except NoReverseMatch:
                continue
    yield "run status", reverse("admin:workflows_run_status", args=[MALFORMED])


def test_malformed_ids_are_pages_that_do_not_exist(client, admin_user):
    client.force_login(admin_user)
    answers = {name + " " + url: client.get(url).status_code for name, url in id_urls()}
    assert len(answers) > 20  # the walk found the registry's pages
    assert {key: code for key, code in answers.items() if code not in (302, 404)} == {}
