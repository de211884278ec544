"""Users and role groups. A role's permissions come from the product (approvals.roles), never from here."""

from __future__ import annotations

import factory
from django.contrib.auth.models import Group, Permission
from factory.django import DjangoModelFactory, Password

from approvals import roles

SERVICE_USER = "service-bot"

# The workspace's people: username -> role group (None: a superuser without a role).
TEAM: dict[str, str | None] = {
    "admin": None,
    "ops": roles.MARKETING_OPS,
    "legal": roles.LEGAL_REVIEWERS,
    "brand": roles.BRAND_REVIEWERS,
    "manager": roles.MANAGERS,
    "lifecycle": roles.LIFECYCLE_REVIEWERS,
    "product": roles.PRODUCT_MARKETING_REVIEWERS,
}


# Role name -> the (pk, app label, codename) of its permissions, resolved once per session.
_resolved: dict[str, frozenset[tuple[int, str, str]]] = {}


def _role_permission_ids(name: str) -> list[int]:
    """approvals.roles' permissions of role ``name``. Resolving them takes ~30 queries, so the
    result is kept, and used again only while the same permission rows still exist (a
    transactional test's flush recreates them under new keys)."""
    cached = _resolved.get(name)
    if cached is not None:
        pks = [pk for pk, _, _ in cached]
        rows = Permission.objects.filter(pk__in=pks).values_list(
            "pk", "content_type__app_label", "codename"
        )
        if set(rows) == cached:
            return pks
    permissions = roles.resolve_permissions(roles.ROLE_PERMISSIONS[name])
    _resolved[name] = frozenset((p.pk, p.content_type.app_label, p.codename) for p in permissions)
    return [p.pk for p in permissions]


def role_group(name: str) -> Group:
    """The role group ``name`` with exactly the permissions approvals.roles gives it."""
    group, _ = Group.objects.get_or_create(name=name)
    group.permissions.set(_role_permission_ids(name))
    return group


class UserFactory(DjangoModelFactory):
    """A staff user without a usable password (tests log in with force_login); pass
    ``password=`` for a browser login, and ``roles=[...]`` for role groups."""

    class Meta:
        model = "auth.User"
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.LazyAttribute(lambda u: u.username.capitalize())
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    is_staff = True
    password = Password(None)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(*(role_group(name) for name in extracted))


class SuperuserFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_superuser = True


class ServiceAccountFactory(UserFactory):
    """The account commands and schedules act as without --user: no role, no password, not staff."""

    username = SERVICE_USER
    first_name = "service account"
    is_staff = False


def team_users(names=TEAM) -> dict:
    """One user per name of TEAM, in their role group ("admin" is a superuser)."""
    users = {}
    for username in names:
        role = TEAM[username]
        if role is None:
            users[username] = SuperuserFactory(username=username)
        else:
            users[username] = UserFactory(username=username, roles=[role])
    return users
