"""Deterministic checks for generated marketing copy. Pure functions: no ORM, no I/O.

Each validator takes the parsed model output and an ``EvalContext`` (what the brief, the
claims registry and the legal restrictions allow) and returns one ``Finding``: a verdict, a
plain-sentence reason and the exact spans of text that caused it.

Content checks read only the reader-facing fields; ``rationale`` and ``risk_flags`` are
notes for the reviewer and are never sent, so they may name what the copy left out.

One module per kind of check (structure, offers, grounding, safety) over shared findings and
text helpers; this module is the registry, in the order the checks run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from evals.validators.findings import (
    FAIL,
    NOT_AN_OBJECT,
    PASS,
    REVIEW,
    REVIEWER_FIELDS,
    EvalContext,
    Finding,
    Span,
)
from evals.validators.grounding import _check_grounding
from evals.validators.offers import _check_restricted_terms, _check_unsupported_offer_language
from evals.validators.safety import (
    _check_personalization_safety,
    _check_risk_flags_empty,
    _check_unsubscribe_language,
)
from evals.validators.structure import (
    _check_cta_once,
    _check_json_schema,
    _check_length_limits,
    _check_required_fields,
)
from evals.validators.summaries import (
    _check_summary_ads_exist,
    _check_summary_flagged_ads_mentioned,
    _check_summary_flags_match_table,
    _check_summary_numbers_in_table,
)

__all__ = [
    "FAIL",
    "NOT_AN_OBJECT",
    "PASS",
    "REVIEW",
    "REVIEWER_FIELDS",
    "DEFAULT_VALIDATORS",
    "SUMMARY_VALIDATORS",
    "VALIDATORS",
    "Check",
    "EvalContext",
    "Finding",
    "Span",
    "run_validators",
]


# --- Running them ------------------------------------------------------------------------

Check = Callable[[dict, EvalContext], Finding]


def _guarded(name: str, check: Check) -> Check:
    """``check`` that never raises: a non-object output or a crash in the check is a FAIL."""

    def run(output: Any, ctx: EvalContext) -> Finding:
        if not isinstance(output, dict):
            return Finding(name, FAIL, NOT_AN_OBJECT)
        try:
            return check(output, ctx)
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others
            reason = (
                f"The check could not run ({type(exc).__name__}); a person must review the output."
            )
            return Finding(name, FAIL, reason)

    run.__name__ = run.__qualname__ = check.__name__
    run.__doc__ = check.__doc__
    return run


VALIDATORS: dict[str, Check] = {
    name: _guarded(name, check)
    for name, check in [
        ("json_schema", _check_json_schema),
        ("required_fields", _check_required_fields),
        ("length_limits", _check_length_limits),
        ("cta_once", _check_cta_once),
        ("unsupported_offer_language", _check_unsupported_offer_language),
        ("restricted_terms", _check_restricted_terms),
        ("grounding", _check_grounding),
        ("unsubscribe_language", _check_unsubscribe_language),
        ("personalization_safety", _check_personalization_safety),
        ("risk_flags_empty", _check_risk_flags_empty),
        # Summaries of computed data (the weekly ad performance review); not applicable elsewhere.
        ("summary_numbers_in_table", _check_summary_numbers_in_table),
        ("summary_ads_exist", _check_summary_ads_exist),
        ("summary_flagged_ads_mentioned", _check_summary_flagged_ads_mentioned),
        ("summary_flags_match_table", _check_summary_flags_match_table),
    ]
}

# A new eval policy's validators: the checks of marketing copy. A workflow whose output
# summarises computed data names the summary checks in its policy.
SUMMARY_VALIDATORS = (
    "summary_numbers_in_table",
    "summary_ads_exist",
    "summary_flagged_ads_mentioned",
    "summary_flags_match_table",
)
DEFAULT_VALIDATORS = tuple(name for name in VALIDATORS if name not in SUMMARY_VALIDATORS)


def run_validators(
    output: Any, ctx: EvalContext, *, enabled: Iterable[str] | None = None
) -> list[Finding]:
    """One finding per enabled validator (default: all), in ``VALIDATORS`` order."""
    if enabled is None:
        names = list(VALIDATORS)
    else:
        wanted = set(enabled)
        unknown = wanted - VALIDATORS.keys()
        if unknown:
            raise ValueError(f"Unknown validators: {', '.join(sorted(unknown))}.")
        names = [name for name in VALIDATORS if name in wanted]
    return [VALIDATORS[name](output, ctx) for name in names]
