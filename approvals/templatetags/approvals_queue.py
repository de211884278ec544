from django import template
from django.urls import reverse

from approvals import selectors

register = template.Library()


@register.simple_tag
def review_queue_counts(user):
    """Open and overdue items per queue of the user's teams, with a link to each queue."""
    if not user.is_authenticated or not user.has_perm("approvals.view_reviewqueueitem"):
        return []
    url = reverse("admin:approvals_reviewqueueitem_changelist")
    return [
        {**row, "url": f"{url}?team__id__exact={row['team_id']}"}
        for row in selectors.open_item_counts(user=user)
    ]
