"""Row-level errors of a file import, shared by every importer. Pure: no ORM, no Django.

An import collects every error (up to ``MAX_ERRORS``, counting the rest) so one upload shows
the person everything to fix; the stored list ends with "... and N more errors" when some
were left off, and ``count_errors`` reads the full count back from it.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_ERRORS = 200
MORE_ERRORS_PREFIX = "... and "


@dataclass
class RowError:
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (f"row {self.row}" if self.row is not None else "", self.column or "")
            if part
        )
        return f"{where}: {self.message}" if where else self.message


class ErrorCollector:
    """Collects errors, keeping the first MAX_ERRORS and counting the rest."""

    def __init__(self) -> None:
        self.kept: list[RowError] = []
        self.dropped = 0

    def add(self, row: int | None, column: str | None, message: str) -> None:
        if len(self.kept) < MAX_ERRORS:
            self.kept.append(RowError(row, column, message))
        else:
            self.dropped += 1

    def __bool__(self) -> bool:
        return bool(self.kept)

    def as_list(self) -> list[RowError]:
        if not self.dropped:
            return list(self.kept)
        more = f"{self.dropped} more error" + ("" if self.dropped == 1 else "s")
        return [*self.kept, RowError(None, None, f"{MORE_ERRORS_PREFIX}{more}")]


def count_errors(messages: list[str]) -> int:
    """How many errors a stored error list stands for, counting those left off after MAX_ERRORS."""
    if messages and messages[-1].startswith(MORE_ERRORS_PREFIX):
        return len(messages) - 1 + int(messages[-1][len(MORE_ERRORS_PREFIX) :].split()[0])
    return len(messages)
