"""Admin for reviewers: "my queue", the item page with its decision form, and read-only audit lists.

Its part of the kernel's run page (review state, decisions, revisions) is a section registered
in ``run_page``. Importing this package registers every admin.
"""

from approvals.admin import audit, configuration, review_queue, run_page, turnaround

__all__ = ["audit", "configuration", "review_queue", "run_page", "turnaround"]
