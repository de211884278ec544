"""CSV exports that a spreadsheet opens as data, never as formulas.

Every CSV the product writes goes through ``csv_writer`` (or ``spreadsheet_row``): a cell a
spreadsheet would evaluate (starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return, per OWASP's CSV injection guidance) is prefixed with a single quote. Pure functions:
no ORM access.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` when a spreadsheet would run it as a formula.

    Numbers are left alone (a negative number is data, and is written unquoted anyway);
    every other value is made text first.
    """
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        text = str(value)
        return "'" + text if text.startswith(FORMULA_TRIGGERS) else text
    return value


def spreadsheet_row(row: Iterable[Any]) -> list[Any]:
    return [spreadsheet_safe(value) for value in row]


class SpreadsheetSafeWriter:
    """A ``csv.writer`` whose every cell has gone through ``spreadsheet_safe``."""

    def __init__(self, stream, **fmtparams):
        self._writer = csv.writer(stream, **fmtparams)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow(spreadsheet_row(row))

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream, **fmtparams) -> SpreadsheetSafeWriter:
    return SpreadsheetSafeWriter(stream, **fmtparams)
