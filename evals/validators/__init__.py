"""Deterministic checks for generated marketing copy. Pure functions: no ORM, no I/O.

Each validator takes the parsed model output and an ``EvalContext`` (what the brief, the
claims registry and the legal restrictions allow) and returns one ``Finding``: a verdict, a
plain-sentence reason and the exact spans of text that caused it.

Content checks read only the reader-facing fields; ``rationale`` and ``risk_flags`` are
notes for the reviewer and are never sent, so they may name what the copy left out.

One module per kind of check (structure, offers, grounding, safety) over shared findings and
text helpers; this module is the registry, in the order the checks run.

``VALIDATORS`` hold for any output and are every eval policy's default. ``SHAPE_VALIDATORS`` each
check one shape of output (a responsive search ad, in ``search_ads``): a policy lists them by
name, and they run only where the output schema has their shape, so no other workflow's findings
change when a shape's checks are added.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
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
from evals.validators.search_ads import CHECKS as SEARCH_AD_CHECKS
from evals.validators.search_ads import is_responsive_search_ad
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
    "SHAPE_VALIDATORS",
    "VALIDATORS",
    "Check",
    "EvalContext",
    "Finding",
    "OutputShape",
    "Span",
    "applies",
    "known_validators",
    "run_validators",
    "shape_mismatches",
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


@dataclass(frozen=True)
class OutputShape:
    """A shape of output some checks are written for; ``fits`` tells it from the output schema."""

    name: str
    fits: Callable[[Any], bool]


@dataclass(frozen=True)
class ShapeCheck:
    shape: OutputShape
    check: Check


RESPONSIVE_SEARCH_AD = OutputShape("responsive search ad", is_responsive_search_ad)

SHAPE_VALIDATORS: dict[str, ShapeCheck] = {
    name: ShapeCheck(RESPONSIVE_SEARCH_AD, _guarded(name, check))
    for name, check in SEARCH_AD_CHECKS
}


def known_validators() -> list[str]:
    """Every registered validator, in the order they run: the general ones, then the shapes'."""
    return [*VALIDATORS, *SHAPE_VALIDATORS]


def applies(name: str, output_schema: Any) -> bool:
    """A general validator applies to every output; a shape's only where the schema has that shape."""
    shaped = SHAPE_VALIDATORS.get(name)
    return shaped is None or shaped.shape.fits(output_schema)


def shape_mismatches(names: Iterable[str], output_schema: Any) -> str:
    """A sentence naming the listed shape checks ``output_schema`` does not fit ("" when none do)."""
    misfits: dict[str, list[str]] = {}
    for name in names:
        if name in SHAPE_VALIDATORS and not applies(name, output_schema):
            misfits.setdefault(SHAPE_VALIDATORS[name].shape.name, []).append(name)
    return " ".join(
        f"{', '.join(listed)} only check a {shape}, and the output schema is not one."
        for shape, listed in misfits.items()
    )


def run_validators(
    output: Any, ctx: EvalContext, *, enabled: Iterable[str] | None = None
) -> list[Finding]:
    """One finding per enabled validator (default: all) that applies to ``ctx.output_schema``,
    in ``known_validators`` order."""
    known = known_validators()
    if enabled is None:
        names = known
    else:
        wanted = set(enabled)
        unknown = wanted - set(known)
        if unknown:
            raise ValueError(f"Unknown validators: {', '.join(sorted(unknown))}.")
        names = [name for name in known if name in wanted]
    checks = {**VALIDATORS, **{name: shaped.check for name, shaped in SHAPE_VALIDATORS.items()}}
    return [checks[name](output, ctx) for name in names if applies(name, ctx.output_schema)]
