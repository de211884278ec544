"""The demo's role users, with published passwords, and the service account."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model

if TYPE_CHECKING:
    from demo.loader import DemoLoader

# Known passwords: for a local demo only, which is why load_demo() refuses to run unless MARKETINGAI_DEMO is on.
DEMO_PASSWORDS = {
    "admin": "admin-demo",
    "ops": "ops-demo",
    "legal": "legal-demo",
    "brand": "brand-demo",
    "manager": "manager-demo",
    "lifecycle": "lifecycle-demo",
    "product": "product-demo",
}

# username -> (first name, last name, role group or None)
DEMO_USERS: dict[str, tuple[str, str, str | None]] = {
    "admin": ("Ada", "Okafor", None),
    "ops": ("Priya", "Raman", "Marketing ops"),
    "legal": ("Tomás", "Lindqvist", "Legal reviewers"),
    "brand": ("Mei", "Castellano", "Brand reviewers"),
    "manager": ("Jonah", "Abernathy", "Managers"),
    "lifecycle": ("Noor", "Haddad", "Lifecycle marketing reviewers"),
    "product": ("Felix", "Brandt", "Product marketing reviewers"),
}

# The service account commands and schedules act as without --user: no roles, no password.
# `make run` sets MARKETINGAI_SERVICE_USER to it.
DEMO_SERVICE_USER = "marketingai-bot"


# Demo pages the role groups see on top of their roles (approvals.roles owns the rest).
DEMO_GROUP_PERMISSIONS: dict[str, list[str]] = {
    "Managers": ["demo.view_outboxmessage"],
    "Marketing ops": ["demo.view_outboxmessage"],
}


def load_users(loader: DemoLoader) -> None:
    from approvals.roles import roles_sync  # approvals owns the role groups

    granted_before = _demo_grants()
    groups = {group.name: group for group in roles_sync()}
    _grant_demo_permissions(loader, groups, granted_before)
    User = get_user_model()
    for username, (first_name, last_name, group_name) in DEMO_USERS.items():
        is_admin = username == "admin"
        values = {
            "first_name": first_name,
            "last_name": last_name,
            "email": f"{username}@kestrel.example",
            "is_staff": True,
            "is_superuser": is_admin,
            "is_active": True,
        }
        user = User.objects.filter(username=username).first()
        created = user is None
        if created:
            user = User(username=username, **values)
            user.set_password(DEMO_PASSWORDS[username])
            user.save()
            loader.note("created", f"user {username}")
        else:
            changed = [name for name, value in values.items() if getattr(user, name) != value]
            if not user.has_usable_password():
                user.set_password(DEMO_PASSWORDS[username])
                changed.append("password")
            if changed:
                for name in changed:
                    if name != "password":
                        setattr(user, name, values[name])
                user.save()
                loader.note("updated", f"user {username} ({', '.join(changed)})")
        wanted = {groups[group_name].pk} if group_name else set()
        if set(user.groups.values_list("pk", flat=True)) != wanted:
            user.groups.set(wanted)
            if not created:
                loader.note("updated", f"user {username} groups ({group_name or 'none'})")
        loader.users[username] = user
    load_service_user(loader)


def load_service_user(loader: DemoLoader) -> None:
    User = get_user_model()
    values = {
        "first_name": "marketingai",
        "last_name": "service account",
        "is_staff": False,
        "is_superuser": False,
        "is_active": True,
    }
    user = User.objects.filter(username=DEMO_SERVICE_USER).first()
    if user is None:
        user = User(username=DEMO_SERVICE_USER, **values)
        user.set_unusable_password()
        user.save()
        loader.note("created", f"service account {DEMO_SERVICE_USER}")
    else:
        changed = [name for name, value in values.items() if getattr(user, name) != value]
        if changed:
            for name in changed:
                setattr(user, name, values[name])
            user.save(update_fields=changed)
            loader.note("updated", f"service account {DEMO_SERVICE_USER} ({', '.join(changed)})")
    if user.groups.exists():
        user.groups.clear()
        loader.note("updated", f"service account {DEMO_SERVICE_USER} groups (none)")


def _demo_grants() -> set[tuple[str, str]]:
    """(group name, "app.codename") of the demo permissions the role groups hold now."""
    from django.contrib.auth.models import Group

    rows = Group.permissions.through.objects.filter(
        group__name__in=DEMO_GROUP_PERMISSIONS, permission__content_type__app_label="demo"
    ).values_list("group__name", "permission__codename")
    return {(group, f"demo.{codename}") for group, codename in rows}


def _grant_demo_permissions(loader: DemoLoader, groups, granted_before) -> None:
    """Give the role groups the demo pages; roles_sync() resets each group to its role, so the
    grants are noted only where a group did not hold them before."""
    from approvals.roles import resolve_permissions

    for group_name, names in DEMO_GROUP_PERMISSIONS.items():
        group = groups[group_name]
        group.permissions.add(*resolve_permissions(names))
        added = [name for name in names if (group_name, name) not in granted_before]
        if added:
            loader.note("updated", f"group {group_name} ({', '.join(added)})")
