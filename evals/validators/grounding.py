"""The grounding check: every number, guarantee, feature and name is backed."""

from __future__ import annotations

import re
from collections.abc import Iterator

from evals.validators.findings import (
    FAIL,
    PASS,
    EvalContext,
    Finding,
)
from evals.validators.text import (
    _clean,
    _copy_texts,
    _find,
    _hits,
    _mentioned,
    _number_in,
    _quoted,
    _spans,
    _term_pattern,
)

# --- 7. grounding ------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
# 7+ digits in groups ("+1 (555) 010-4477", "555-0134"); ISO dates are not phone numbers.
_PHONE = re.compile(
    r"(?<![\w+])(?!\d{4}-\d{2}-\d{2}(?!\d))(?=(?:[\s.()+-]{0,3}\d){7})"
    r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,3}(?!\w)"
)
_NUMBER = re.compile(r"(?<![\w.,$€£])(?:[$€£]\s?)?\d{1,15}(?:[.,]\d{1,15}){0,5}(?:\s?%)?")
_GUARANTEE = re.compile(
    r"\b(?:guarantee[sd]?|risk[-\s]?free|money[-\s]back)\b|(?<![\w.])100\s?%", re.IGNORECASE
)

# Customer names, kept simple: capitalized words after "used by", "trusted by", "customers
# like", "teams at" ...; a capitalized name before "uses"/"relies on"; or a capitalized name
# ending in a company suffix ("Acme Corp", "Globex Inc").
_NAME_WORDS = r"[A-Z][\w&'’-]{0,30}(?:[ \t]+[A-Z][\w&'’-]{0,30}){0,3}"  # on one line
_NAME = re.compile(_NAME_WORDS)
_NAME_SEPARATOR = re.compile(r",?\s+and\s+|\s*,\s*|\s*&\s*")
_CUSTOMER_LEAD = re.compile(
    r"\b(?:(?:used|trusted|loved|chosen|relied\s+on|backed)\s+by"
    r"|(?:customers|companies|teams|brands|clients)\s+(?:like|such\s+as|including|at))\s+",
    re.IGNORECASE,
)
_NAME_USES = re.compile(
    rf"\b(?P<hit>{_NAME_WORDS})\s+(?:uses|relies\s+on|switched\s+to|runs\s+on)\b"
)
_COMPANY = re.compile(
    rf"\b(?P<hit>{_NAME_WORDS}\s+(?:Inc|Corp|Corporation|Ltd|LLC|GmbH|PLC|Labs|Technologies))\b"
)
_LEADING_COMMON_WORDS = re.compile(
    r"(?:(?:The|A|An|Our|Your|Their|It|We|You|They|He|She|This|That|Each|Every|Any|Who|Which"
    r"|Everyone|Everybody|Nobody|Teams|Customers)\b\s*)*"
)
_MAX_LISTED_NAMES = 10


def _name_hit(text: str, start: int, end: int) -> Iterator[tuple[str, int, int]]:
    """The name between start and end without leading sentence words ("The", "Your")."""
    start = _LEADING_COMMON_WORDS.match(text, start, end).end()
    if start < end:
        yield "customer", start, end


def _customer_names(text: str) -> Iterator[tuple[str, int, int]]:
    for lead in _CUSTOMER_LEAD.finditer(text):
        position = lead.end()
        for _ in range(_MAX_LISTED_NAMES):
            name = _NAME.match(text, position)
            if not name:
                break
            yield from _name_hit(text, *name.span())
            separator = _NAME_SEPARATOR.match(text, name.end())
            if not separator:
                break
            position = separator.end()
    for pattern in (_NAME_USES, _COMPANY):
        for match in pattern.finditer(text):
            yield from _name_hit(text, *match.span("hit"))


def _grounded(label: str, text: str, backing: tuple[str, ...]) -> bool:
    return _number_in(text, backing) if label == "number" else _mentioned(text, backing)


def _check_grounding(output: dict, ctx: EvalContext) -> Finding:
    name = "grounding"
    finders = [
        _find("guarantee", _GUARANTEE),
        _find("contact", _PHONE),  # before numbers, so a phone number is one item
        _find("contact", _EMAIL),
        _find("number", _NUMBER),
        *(_find("feature", _term_pattern(f)) for f in _clean(ctx.known_features)),
        *(_find("competitor", _term_pattern(c)) for c in _clean(ctx.known_competitors)),
        _customer_names,
    ]
    backing = (*_clean(ctx.approved_claims), *_clean(ctx.brief_facts), *_clean(ctx.offer))
    hits = _hits(finders, _copy_texts(output))
    unsupported = [
        (label, span) for label, span in hits if not _grounded(label, span.text, backing)
    ]
    if unsupported:
        listed = _quoted(span.text for _, span in unsupported)
        reason = f"Unsupported: {listed} (not in the approved claims, brief or offer)."
        return Finding(name, FAIL, reason, _spans(unsupported))
    return Finding(
        name, PASS, "Every number, guarantee, feature and name is backed by the brief or claims."
    )
