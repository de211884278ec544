"""Approvals orchestration: route a run to a queue, decide items, notify teams, keep the trace.

One module per concern; every service other code calls is re-exported here, so
``from approvals import services; services.item_decide(...)`` keeps working.
"""

from approvals.services.approval_requests import (
    RoutedRun,
    run_auto_approve,
    run_facts,
    run_failed_withdraw_items,
    run_request_approval,
)
from approvals.services.decisions import (
    ITEM_STATUS_FOR,
    DecisionOutcome,
    ensure_can_decide,
    item_decide,
    refusal_reason,
)
from approvals.services.notifications import (
    WEBHOOK_MAX_RESPONSE_BYTES,
    item_enqueue_notification,
    item_notify,
    notification_text,
)
from approvals.services.teams import DEFAULT_TEAM, TEAMS, access_sync, teams_sync
from approvals.services.traces import approval_section

__all__ = [
    "DEFAULT_TEAM",
    "ITEM_STATUS_FOR",
    "TEAMS",
    "WEBHOOK_MAX_RESPONSE_BYTES",
    "DecisionOutcome",
    "RoutedRun",
    "access_sync",
    "approval_section",
    "ensure_can_decide",
    "item_decide",
    "item_enqueue_notification",
    "item_notify",
    "notification_text",
    "refusal_reason",
    "run_auto_approve",
    "run_facts",
    "run_failed_withdraw_items",
    "run_request_approval",
    "teams_sync",
]
