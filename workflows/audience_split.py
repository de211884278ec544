"""The audience split of a rollout: which recipients get the candidate, by a stable hash.

Pure: standard library only. The same recipient and test give the same answer in every process
and on every machine, and raising the share only adds recipients (docs/rollout-statistics.md).
"""

from __future__ import annotations

import hashlib


def split_point(*, recipient_key: str, test_key: str) -> float:
    """A uniform number in [0, 1) fixed by the test and the recipient: sha256, first 8 bytes."""
    digest = hashlib.sha256(f"{test_key}\x1f{recipient_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assigned_to_candidate(*, recipient_key: str, test_key: str, share: float) -> bool:
    """Whether this recipient gets the candidate in this test at this share (0 to 1).

    Stable across calls and processes, and monotone: raising the share only adds recipients.
    """
    if not 0 <= share <= 1:
        raise ValueError("The share must be between 0 and 1.")
    return split_point(recipient_key=recipient_key, test_key=test_key) < share
