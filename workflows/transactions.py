"""No network wait inside a database transaction: the one check every outbound call makes."""

from __future__ import annotations

from django.db import connections
from django.db.transaction import TransactionManagementError


def refuse_inside_transaction(what: str = "A model call") -> None:
    """Raise when a database transaction is open on this thread (tests' own wrapping excepted)."""
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block and any(
            not getattr(a, "_from_testcase", False) for a in connection.atomic_blocks
        ):
            raise TransactionManagementError(
                f"{what} must not run inside a database transaction ({connection.alias}): "
                "it would hold the database's write lock for the whole network wait."
            )
