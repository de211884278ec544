"""What a validator returns (a Finding with its verdict and spans) and what it reads (EvalContext)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from workflows.vocabulary import Verdict

PASS, FAIL, REVIEW = Verdict.PASS, Verdict.FAIL, Verdict.REVIEW

NOT_AN_OBJECT = "Output is not a JSON object."
REVIEWER_FIELDS = frozenset({"rationale", "risk_flags"})


@dataclass(frozen=True)
class Span:
    field: str  # output field path, e.g. "email_body" or "subject_lines/1"
    start: int  # character offsets in that field's text
    end: int
    text: str


@dataclass(frozen=True)
class Finding:
    name: str
    verdict: Verdict
    reason: str
    spans: tuple[Span, ...] = ()

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "reason": self.reason,
            "spans": [asdict(span) for span in self.spans],
        }


@dataclass(frozen=True)
class EvalContext:
    output_schema: dict
    channel: str = "email"
    field_limits: Mapping[str, int] = field(default_factory=lambda: {"subject_lines": 50})
    cta_field: str = "cta_text"
    body_field: str = "email_body"
    offer: str = ""
    offer_expires_at: datetime | None = None
    approved_claims: tuple[str, ...] = ()
    brief_facts: tuple[str, ...] = ()
    restricted_terms: tuple[str, ...] = ()
    known_competitors: tuple[str, ...] = ()
    known_features: tuple[str, ...] = ()
    prompt_text: str = ""
    unsubscribe_required_channels: tuple[str, ...] = ("email",)
    # What pipeline steps computed and gave the prompt (RunContext.prompt_variables), by variable
    # name, e.g. "ad_performance": checks of summaries hold the output to it.
    source_data: Mapping[str, Any] = field(default_factory=dict)
