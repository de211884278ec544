"""Checks on offers and legal terms: unsupported_offer_language, restricted_terms."""

from __future__ import annotations

import re

from evals.validators.findings import (
    FAIL,
    PASS,
    EvalContext,
    Finding,
)
from evals.validators.text import (
    _DIGITS,
    _clean,
    _clip,
    _copy_texts,
    _find,
    _hits,
    _listing,
    _mentioned,
    _number_in,
    _quoted,
    _spans,
    _term_pattern,
)

# --- 5. unsupported_offer_language ---------------------------------------------------------

_PERCENT = r"\d{1,3}(?:\.\d{1,2})?\s?(?:%|percent\b)"
_MONEY = r"[$€£]\s?\d{1,9}(?:[.,]\d{1,3})*"
_AMOUNT = r"(?<![\w.,])\d{1,9}(?:[.,]\d{1,3})*"
_PERIOD = r"(?:months?|weeks?|years?)"

_OFFER_PATTERNS: dict[str, re.Pattern] = {
    "percent discount": re.compile(
        rf"(?<![\w.]){_PERCENT}\s+off\b|\bsave\s+(?:up\s+to\s+)?{_PERCENT}", re.IGNORECASE
    ),
    "amount discount": re.compile(
        rf"{_MONEY}\s+off\b|\bsave\s+(?:up\s+to\s+)?{_MONEY}", re.IGNORECASE
    ),
    "free period": re.compile(
        rf"\b(?:(?:\d{{1,2}}|an?|one|two|three|six)\s+)?(?:free|extra|bonus)\s+{_PERIOD}\b"
        rf"|\b(?:(?:first|\d{{1,2}})\s+)?{_PERIOD}\s+(?:for\s+)?free\b",
        re.IGNORECASE,
    ),
    "promo code": re.compile(
        r"\b(?:coupons?|vouchers?|promo(?:tional)?\s+codes?|discount\s+codes?|promo)\b",
        re.IGNORECASE,
    ),
    "discount": re.compile(
        r"\b(?:discount(?:s|ed)?|half[-\s]price|reduced\s+price)\b", re.IGNORECASE
    ),
    "price": re.compile(
        rf"{_MONEY}(?:\s?(?:/|per\s+|a\s+)(?:month|mo|year|yr|seat|user|editor)\b)?"
        rf"|{_AMOUNT}\s?(?:USD|EUR|GBP|dollars?|euros?|pounds?)\b"
        rf"|{_AMOUNT}\s?(?:/|per\s+)(?:month|mo|year|yr|seat|user|editor)\b",
        re.IGNORECASE,
    ),
    # Deadline pressure. A trial that "ends soon" is the email's subject, not urgency, so bare
    # "ends"/"expires" count only when tied to an offer or a tight deadline.
    "urgency": re.compile(
        r"\bhurry\b|\blast\s+chance\b|\bact\s+(?:now|fast|today)\b|\blimited[-\s]time\b"
        r"|\btoday\s+only\b|\bdon['’]?t\s+miss\s+out\b|\bbefore\s+it['’]?s\s+too\s+late\b"
        r"|\bnow\s+or\s+never\b|\bends?\s+(?:tonight|today|at\s+midnight)\b"
        r"|\bexpir(?:es|ing)\s+(?:tonight|today|tomorrow|at\s+midnight|in\s+\d{1,2}\s+hours?)\b"
        r"|\b(?:offer|deal|discount|price|pricing|promo(?:tion)?|coupon|sale)\s+(?:ends|expires|expiring)\b"
        r"|\bonly\s+(?:\d{1,3}|one|two|three|four|five|six|seven|a\s+few)\s+(?:days?|hours?|weeks?)"
        r"\s+(?:left|remain(?:ing)?)\b",
        re.IGNORECASE,
    ),
}
_DISCOUNT_KINDS = ("percent discount", "amount discount", "free period", "promo code", "discount")


def _offer_problem(kind: str, text: str, ctx: EvalContext) -> str:
    """Why this offer wording is unsupported, or '' when the brief backs it."""
    if kind == "urgency":
        return "" if ctx.offer_expires_at else "urgency without an offer expiry date"
    offer = ctx.offer if isinstance(ctx.offer, str) else ""
    kinds = _DISCOUNT_KINDS if kind == "discount" else (kind,)
    if not any(_OFFER_PATTERNS[k].search(offer) for k in kinds):
        return "no such offer in the brief"
    backing = (offer, *_clean(ctx.brief_facts))
    if not all(_number_in(number, backing) for number in _DIGITS.findall(text)):
        return "the amount is not in the brief's offer"
    return ""


def _check_unsupported_offer_language(output: dict, ctx: EvalContext) -> Finding:
    name = "unsupported_offer_language"
    hits = _hits((_find(kind, p) for kind, p in _OFFER_PATTERNS.items()), _copy_texts(output))
    if not hits:
        return Finding(name, PASS, "No discount, price or urgency language.")
    problems = [(span, _offer_problem(kind, span.text, ctx)) for kind, span in hits]
    unsupported = [(span, why) for span, why in problems if why]
    if not unsupported:
        used = _quoted(span.text for span, _ in problems)
        return Finding(name, PASS, f"Offer language matches the brief's offer: {used}.")
    listed = _listing(f"'{_clip(span.text)}' ({why})" for span, why in unsupported)
    spans = tuple(span for span, _ in unsupported)
    return Finding(name, FAIL, f"Unsupported offer language: {listed}.", spans)


# --- 6. restricted_terms -----------------------------------------------------------------


def _check_restricted_terms(output: dict, ctx: EvalContext) -> Finding:
    name = "restricted_terms"
    terms = _clean(ctx.restricted_terms)
    hits = _hits((_find(term, _term_pattern(term)) for term in terms), _copy_texts(output))
    claims = _clean(ctx.approved_claims)
    blocked = [(term, span) for term, span in hits if not _mentioned(term, claims)]
    if blocked:
        reason = (
            f"Restricted terms that no approved claim states: {_quoted(t for t, _ in blocked)}."
        )
        return Finding(name, FAIL, reason, _spans(blocked))
    if hits:
        reason = f"Restricted terms appear only as approved claims state them: {_quoted(t for t, _ in hits)}."
        return Finding(name, PASS, reason)
    return Finding(name, PASS, "No restricted terms.")
