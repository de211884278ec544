"""django-q2 tasks: take ids, call one service."""

from approvals import services


def item_notify_task(item_id: int) -> int:
    return len(services.item_notify(item_id=item_id))
