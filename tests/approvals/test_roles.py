"""Role groups: roles_sync writes approvals.roles exactly, or nothing when a codename is wrong."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from approvals import roles


@pytest.mark.django_db
def test_roles_sync_names_an_unknown_codename(monkeypatch):
    monkeypatch.setitem(roles.ROLE_PERMISSIONS, "Managers", ["workflows.view_nonexistent"])
    with pytest.raises(ValueError, match="workflows.view_nonexistent"):
        roles.roles_sync()
    assert not Group.objects.exists()  # nothing is written when a codename is wrong


@pytest.mark.django_db
def test_the_test_factories_give_each_role_exactly_what_roles_sync_gives_it():
    from tests.factories.users import role_group

    synced = {g.name: set(g.permissions.values_list("pk", flat=True)) for g in roles.roles_sync()}
    for name, permissions in synced.items():
        assert set(role_group(name).permissions.values_list("pk", flat=True)) == permissions, name
        assert set(role_group(name).permissions.values_list("pk", flat=True)) == permissions, name
