"""The review teams every installation has, on their role groups."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from approvals import roles
from approvals.models import ReviewTeam
from workflows.identity import service_user_or_none
from workflows.models import with_history_context

# The teams every installation has, and the role group whose members review each queue.
TEAMS: dict[str, tuple[str, str]] = {
    ReviewTeam.LIFECYCLE_MARKETING: ("Lifecycle marketing", roles.LIFECYCLE_REVIEWERS),
    ReviewTeam.LEGAL: ("Legal", roles.LEGAL_REVIEWERS),
    ReviewTeam.BRAND: ("Brand", roles.BRAND_REVIEWERS),
    ReviewTeam.PRODUCT_MARKETING: ("Product marketing", roles.PRODUCT_MARKETING_REVIEWERS),
}
DEFAULT_TEAM = ReviewTeam.LIFECYCLE_MARKETING


# --- Teams and roles -------------------------------------------------------------------------


def teams_sync() -> list[ReviewTeam]:
    """Create the four review teams on their role groups (idempotent; names and groups are kept in line)."""
    teams = []
    actor = service_user_or_none()
    with transaction.atomic():
        for slug, (name, group_name) in TEAMS.items():
            group, _ = Group.objects.get_or_create(name=group_name)
            team = ReviewTeam.objects.filter(slug=slug).first()
            if team is None:
                team = ReviewTeam(slug=slug, name=name, group=group)
                with_history_context(team, by=actor, reason="Review team created by sync_roles")
                team.save()
            elif team.group_id != group.pk:
                team.group = group
                with_history_context(
                    team, by=actor, reason="Review team put back on its role group by sync_roles"
                )
                team.save(update_fields=["group"])
            teams.append(team)
    return teams


def access_sync() -> tuple[list[Group], list[ReviewTeam]]:
    """The role groups with exactly their permissions, and the review teams on them."""
    return roles.roles_sync(), teams_sync()
