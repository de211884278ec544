"""The words every app uses for what a check found: verdicts and risk levels, in their order.

Pure: no Django, so validators, routing and the other pure modules use it too. Each word is a
``str`` enum whose values are the stored strings: ``Verdict.PASS == "pass"``, it hashes and
serializes as ``"pass"``, and stored data needs no migration. Members are ordered from the best
(first) to the worst (last), so ``max()``, ``<`` and ``worst()`` mean "worse", never alphabetical.

Model fields take ``choices=RiskLevel.choices`` and constraints ``RiskLevel.values``, the shape
of Django's TextChoices.

An evaluation's results are named here too: each validator by its name, each model judge as
``judge:<name>`` (``check_results``), and the worst verdict per check over several evaluations
(``worst_per_check``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import EnumType, StrEnum
from typing import Any, Self


class _VocabularyType(EnumType):
    """Django's TextChoices class attributes for a plain enum: ``choices``, ``values``, ``labels``."""

    @property
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.value, member.label) for member in cls]

    @property
    def values(cls) -> list[str]:
        return [member.value for member in cls]

    @property
    def labels(cls) -> list[str]:
        return [member.label for member in cls]


class OrderedWord(StrEnum, metaclass=_VocabularyType):
    """A stored word with an order: members from the best (first) to the worst (last)."""

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def rank(self) -> int:
        return type(self)._member_names_.index(self.name)

    @classmethod
    def of(cls, value: Any) -> Self | None:
        """The member ``value`` names, or None when it is blank or not one of them."""
        try:
            return cls(value)
        except ValueError:
            return None

    @classmethod
    def worst(cls, values: Iterable[Any], *, default: Self | None = None) -> Self | None:
        """The worst of ``values``; blanks are skipped, an unknown word counts as the worst there is.

        ``default`` when there is nothing to judge.
        """
        ranks = [
            member.rank if member is not None else len(cls) - 1
            for member in (cls.of(value) for value in values if value not in (None, ""))
        ]
        return list(cls)[max(ranks)] if ranks else default

    def at_least(self, other: Any) -> bool:
        """As bad as ``other`` or worse; False when ``other`` is not one of these words."""
        threshold = type(self).of(other)
        return threshold is not None and self.rank >= threshold.rank

    def is_worse_than(self, other: Any) -> bool:
        threshold = type(self).of(other)
        return threshold is not None and self.rank > threshold.rank

    def _rank_of(self, other: Any) -> int:
        member = type(self).of(other)
        if member is None:
            raise TypeError(f"{other!r} is not a {type(self).__name__}: they cannot be ordered.")
        return member.rank

    def __lt__(self, other: Any) -> bool:
        return self.rank < self._rank_of(other)

    def __le__(self, other: Any) -> bool:
        return self.rank <= self._rank_of(other)

    def __gt__(self, other: Any) -> bool:
        return self.rank > self._rank_of(other)

    def __ge__(self, other: Any) -> bool:
        return self.rank >= self._rank_of(other)


class Verdict(OrderedWord):
    """What one check (a validator or a model judge) says about an output."""

    PASS = "pass"
    REVIEW = "review"
    FAIL = "fail"


class RiskLevel(OrderedWord):
    """How risky an output is to send, from what its checks found."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


JUDGE_PREFIX = "judge:"


def judge_check(name: str) -> str:
    """The check name of the model judge ``name``: ``judge:<name>``."""
    return f"{JUDGE_PREFIX}{name}"


def check_results(
    findings: Iterable[Mapping[str, Any]], judge_verdicts: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """Check name -> verdict of one evaluation: validators by name, judges as ``judge:<name>``."""
    results = {str(finding["name"]): finding["verdict"] for finding in findings}
    results |= {judge_check(verdict["name"]): verdict["verdict"] for verdict in judge_verdicts}
    return results


def worst_per_check(results: Iterable[Mapping[str, str]]) -> dict[str, Verdict]:
    """Per check, the worst verdict over several evaluations' ``check_results``."""
    seen: dict[str, list[str]] = {}
    for evaluation in results:
        for name, verdict in evaluation.items():
            seen.setdefault(name, []).append(verdict)
    return {name: Verdict.worst(verdicts, default=Verdict.PASS) for name, verdicts in seen.items()}
