"""Which queue a run goes to. Pure functions over what the evals and the data check found: no ORM."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workflows.vocabulary import JUDGE_PREFIX, RiskLevel, Verdict

ALWAYS = "always"
RISK_AT_LEAST = "risk_at_least"
CHECK_VERDICT = "check_verdict"
ANY_JUDGE_FAILS = "any_judge_fails"
DATA_CHECK_REVIEW = "data_check_review"
ALL_CLEAR = "all_clear"

ROUTE = "route"
AUTO_APPROVE = "auto_approve"


@dataclass(frozen=True)
class RunFacts:
    """What routing may look at: the run's risk, each check's worst verdict, flags and the data check."""

    risk_level: str = ""  # "" when nothing was evaluated
    verdicts: Mapping[str, str] = field(
        default_factory=dict
    )  # check -> worst verdict; judges as "judge:<name>"
    risk_flags: tuple[str, ...] = ()
    data_check_routes_to_review: bool = False
    auto_approval_allowed: bool = False

    @property
    def evaluated(self) -> bool:
        return bool(self.risk_level) and bool(self.verdicts)

    @property
    def all_clear(self) -> bool:
        return (
            self.evaluated
            and all(v == Verdict.PASS for v in self.verdicts.values())
            and self.risk_level == RiskLevel.LOW
            and not self.risk_flags
            and not self.data_check_routes_to_review
        )


@dataclass(frozen=True)
class Rule:
    key: Any
    name: str
    condition: str
    team: str | None = None
    action: str = ROUTE
    risk_level: str = ""
    check_name: str = ""
    verdicts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Routing:
    rule_key: Any
    rule_name: str
    action: str
    team: str | None
    reason: str


def why(rule: Rule, facts: RunFacts) -> str | None:
    """The reason the rule holds for these facts, in a few words; None when it does not."""
    if rule.condition == ALWAYS:
        return "default rule"
    if rule.condition == RISK_AT_LEAST:
        level = RiskLevel.of(facts.risk_level)
        if level is not None and level.at_least(rule.risk_level):
            return f"risk is {facts.risk_level}"
        return None
    if rule.condition == CHECK_VERDICT:
        verdict = facts.verdicts.get(rule.check_name)
        if verdict is not None and verdict in rule.verdicts:
            return f"{rule.check_name} is {verdict}"
        return None
    if rule.condition == ANY_JUDGE_FAILS:
        failing = sorted(
            n[len(JUDGE_PREFIX) :]
            for n, v in facts.verdicts.items()
            if n.startswith(JUDGE_PREFIX) and v == Verdict.FAIL
        )
        return f"judge {', '.join(failing)} fails" if failing else None
    if rule.condition == DATA_CHECK_REVIEW:
        return "the data check routes to review" if facts.data_check_routes_to_review else None
    if rule.condition == ALL_CLEAR:
        return (
            "all evals pass, risk is low and there are no risk flags" if facts.all_clear else None
        )
    raise ValueError(f"Unknown routing condition {rule.condition!r}.")


def route(rules: Iterable[Rule], facts: RunFacts, *, default_team: str) -> Routing:
    """The first rule that holds decides; an auto-approval also needs the workflow to allow it.

    When no rule holds, the run goes to ``default_team``.
    """
    for rule in rules:
        if rule.action == AUTO_APPROVE and not (facts.auto_approval_allowed and facts.all_clear):
            continue
        reason = why(rule, facts)
        if reason is None:
            continue
        if rule.action == AUTO_APPROVE:
            return Routing(
                rule.key,
                rule.name,
                AUTO_APPROVE,
                None,
                f"auto-approved by rule {rule.name}: {reason}",
            )
        return Routing(rule.key, rule.name, ROUTE, rule.team, f"rule {rule.name}: {reason}")
    return Routing(None, "", ROUTE, default_team, "no rule matched: the default queue")
