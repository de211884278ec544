"""Deterministic checks for generated marketing copy. Pure functions: no ORM, no I/O.

Each validator takes the parsed model output and an ``EvalContext`` (what the brief, the
claims registry and the legal restrictions allow) and returns one ``Finding``: a verdict, a
plain-sentence reason and the exact spans of text that caused it.

Content checks read only the reader-facing fields; ``rationale`` and ``risk_flags`` are
notes for the reviewer and are never sent, so they may name what the copy left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from workflows.contracts import schema_problem, validate_document

PASS, FAIL, REVIEW = "pass", "fail", "review"

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
    verdict: str
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


# --- Text helpers --------------------------------------------------------------------------

# A finder yields (label, start, end) for each match in one text.
Finder = Callable[[str], Iterable[tuple[str, int, int]]]
Hit = tuple[str, Span]


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string inside ``value`` as (field path, text); other types are the schema's problem."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}/{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}/{index}")


def _copy_texts(output: dict) -> list[tuple[str, str]]:
    """The reader-facing strings of the output, in field order."""
    texts: list[tuple[str, str]] = []
    for key, value in output.items():
        if str(key) not in REVIEWER_FIELDS:
            texts += _strings(value, str(key))
    return texts


def _clean(values: Any) -> tuple[str, ...]:
    """The non-blank strings of a context tuple (tolerates None and stray types)."""
    if isinstance(values, str):
        values = (values,)
    return tuple(v for v in values or () if isinstance(v, str) and v.strip())


def _find(label: str, pattern: re.Pattern) -> Finder:
    """A finder for ``pattern``; a group named "hit" narrows the span to that part."""

    def finder(text: str) -> Iterator[tuple[str, int, int]]:
        for match in pattern.finditer(text):
            start, end = match.span("hit") if "hit" in pattern.groupindex else match.span()
            yield label, start, end

    return finder


def _hits(finders: Iterable[Finder], texts: list[tuple[str, str]]) -> list[Hit]:
    """Non-overlapping matches in reading order; of two that overlap the earlier, longer one wins."""
    finders = list(finders)
    found: list[Hit] = []
    for path, text in texts:
        candidates = [c for finder in finders for c in finder(text)]
        candidates.sort(key=lambda c: (c[1], -c[2]))
        end = 0
        for label, start, stop in candidates:
            if start >= end and stop > start:
                found.append((label, Span(path, start, stop, text[start:stop])))
                end = stop
    return found


@lru_cache(maxsize=1024)
def _term_pattern(term: str) -> re.Pattern:
    """Whole words, any case; "SOC 2" also matches "SOC2"/"SOC-2", "guarantee" also "guaranteed"."""
    parts = [re.escape(part) for part in re.split(r"[\s-]+", term.strip()) if part]
    inflection = r"(?:e?s|e?d)?" if term.strip()[-1:].isalpha() else ""
    return re.compile(r"(?<!\w)" + r"[\s-]?".join(parts) + inflection + r"(?!\w)", re.IGNORECASE)


def _mentioned(term: str, texts: Iterable[str]) -> bool:
    pattern = _term_pattern(term)
    return any(pattern.search(text) for text in texts)


@lru_cache(maxsize=1024)
def _number_pattern(token: str) -> re.Pattern:
    """The same number (with its currency sign or percent, if any) and not part of a longer one."""
    digits = _DIGITS.search(token).group()
    currency = token[0] if token[0] in "$€£" else ""
    prefix = re.escape(currency) + r"\s?" if currency else r"(?<![\d.,])"
    suffix = r"\s?(?:%|percent\b)" if token.rstrip().endswith("%") else ""
    return re.compile(prefix + re.escape(digits) + suffix + r"(?!\d|[.,]\d)", re.IGNORECASE)


def _number_in(token: str, texts: Iterable[str]) -> bool:
    pattern = _number_pattern(token)
    return any(pattern.search(text) for text in texts)


def _label(path: str) -> str:
    """ "subject_lines/1" -> "subject line 2"; "email_body" -> "email body"."""
    name, _, index = path.partition("/")
    if index.isdigit():
        return f"{name.replace('_', ' ').removesuffix('s')} {int(index) + 1}"
    return path.replace("_", " ").replace("/", " ")


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _listing(parts: Iterable[str], most: int = 10) -> str:
    """'a, b, c' without duplicates, and "and N more" past ``most`` items."""
    unique = list(dict.fromkeys(parts))
    more = f" and {len(unique) - most} more" if len(unique) > most else ""
    return ", ".join(unique[:most]) + more


def _quoted(texts: Iterable[str]) -> str:
    return _listing(f"'{_clip(text)}'" for text in texts)


def _spans(hits: Iterable[Hit]) -> tuple[Span, ...]:
    return tuple(span for _, span in hits)


# --- 1. json_schema ----------------------------------------------------------------------


def _value_at(output: Any, path: str) -> Any:
    value = output
    for part in path.split("/"):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def _check_json_schema(output: dict, ctx: EvalContext) -> Finding:
    name = "json_schema"
    problem = schema_problem(ctx.output_schema)
    if problem:
        return Finding(name, FAIL, f"The output schema cannot be used: {problem}")
    errors = validate_document(output, ctx.output_schema).errors
    if not errors:
        return Finding(name, PASS, "The output matches its JSON schema.")
    shown = "; ".join(_clip(error, 160) for error in errors[:3])
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    spans = {}
    for error in errors:
        path = error.partition(": ")[0]
        value = _value_at(output, path)
        if isinstance(value, str) and value:
            spans[path] = Span(path, 0, len(value), value)
    reason = f"The output does not match its schema: {shown}{more}."
    return Finding(name, FAIL, reason, tuple(spans.values()))


# --- 2. required_fields ------------------------------------------------------------------


def _blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, dict)) and not value)


def _may_be_empty_list(schema: dict, key: str) -> bool:
    """An array the schema lets be empty (no minItems), like risk_flags: [] means "nothing"."""
    spec = (schema.get("properties") or {}).get(key)
    return isinstance(spec, dict) and spec.get("type") == "array" and not spec.get("minItems")


def _missing(output: dict, schema: dict, key: str) -> bool:
    value = output.get(key)
    if value == [] and _may_be_empty_list(schema, key):
        return False
    return _blank(value)


def _check_required_fields(output: dict, ctx: EvalContext) -> Finding:
    name = "required_fields"
    schema = ctx.output_schema if isinstance(ctx.output_schema, dict) else {}
    required = [str(key) for key in schema.get("required") or ()]
    if not required:
        return Finding(name, PASS, "The schema requires no fields.")
    missing = [key for key in required if _missing(output, schema, key)]
    if missing:
        return Finding(name, FAIL, f"Missing or empty: {', '.join(missing)}.")
    return Finding(name, PASS, f"All {len(required)} required fields are filled in.")


# --- 3. length_limits --------------------------------------------------------------------


def _limited_texts(value: Any, name: str) -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(name, value)]
    if isinstance(value, list):
        return [(f"{name}/{i}", item) for i, item in enumerate(value) if isinstance(item, str)]
    return []


def _check_length_limits(output: dict, ctx: EvalContext) -> Finding:
    name = "length_limits"
    too_long: list[tuple[Span, int]] = []
    for key, limit in (ctx.field_limits or {}).items():
        for path, text in _limited_texts(output.get(key), key):
            if len(text) >= limit:  # "under 50 characters": 50 itself is too long
                too_long.append((Span(path, 0, len(text), text), limit))
    if not too_long:
        return Finding(name, PASS, "Every limited field is under its character limit.")
    parts = (
        f"{_label(span.field)} has {len(span.text)} characters (must be under {limit})"
        for span, limit in too_long
    )
    return Finding(name, FAIL, f"Too long: {_listing(parts)}.", tuple(s for s, _ in too_long))


# --- 4. cta_once -------------------------------------------------------------------------


@lru_cache(maxsize=256)
def _phrase_pattern(phrase: str) -> re.Pattern:
    """``phrase`` as whole words, any run of whitespace between them, case-insensitive."""
    words = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.compile(r"(?<!\w)" + words + r"(?!\w)", re.IGNORECASE)


def _check_cta_once(output: dict, ctx: EvalContext) -> Finding:
    name = "cta_once"
    cta = output.get(ctx.cta_field)
    if not isinstance(cta, str) or not cta.strip():
        return Finding(name, FAIL, "There is no CTA text to check.")
    body = output.get(ctx.body_field)
    body = body if isinstance(body, str) else ""
    hits = _hits([_find("cta", _phrase_pattern(cta.strip()))], [(ctx.body_field, body)])
    where, quoted = _label(ctx.body_field), _clip(cta.strip())
    if len(hits) == 1:
        return Finding(name, PASS, f"The CTA appears once in the {where}.", _spans(hits))
    if not hits:
        return Finding(name, FAIL, f"The CTA '{quoted}' does not appear in the {where}.")
    reason = f"The CTA '{quoted}' appears {len(hits)} times in the {where}; it must appear once."
    return Finding(name, FAIL, reason, _spans(hits))


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
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")


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


# --- 8. unsubscribe_language -------------------------------------------------------------

_OPT_OUT = r"(?:unsubscribe|opt[-\s]?out)"
_DISCOURAGING = re.compile(
    rf"\b(?:please\s+)?(?:do\s+not|don['’]?t|never)\s+{_OPT_OUT}\b"
    r"|\b(?:you\s+)?(?:cannot|can\s?not|can['’]?t|are\s+unable\s+to|won['’]?t\s+be\s+able\s+to)"
    rf"\s+{_OPT_OUT}\b"
    r"|\b(?:required|mandatory)\s+(?:service\s+)?(?:emails?|messages?|notices?|communications?)\b"
    r"|\bunsubscribing\s+(?:will|would|means)\b"
    rf"|\bif\s+you\s+{_OPT_OUT},?\s+you(?:['’]ll|\s+will)\b",
    re.IGNORECASE,
)
# The email platform appends the legal footer; copy that writes its own is for a person to check.
_OWN_UNSUBSCRIBE = re.compile(
    rf"\b(?:click|tap)\s+(?:here|below|the\s+link)\s+to\s+{_OPT_OUT}\b"
    r"|\breply\s+(?:with\s+)?[\"'“‘]?STOP\b"
    rf"|\bto\s+{_OPT_OUT}\s*,"
    rf"|\b{_OPT_OUT}\s+(?:here|below|via|by|at\s+any\s+time\s+by)\b"
    r"|\bhttps?://\S{0,200}unsubscribe\S{0,200}"
    r"|\bmanage\s+(?:your\s+)?(?:email\s+)?(?:preferences|subscriptions?)\b",
    re.IGNORECASE,
)


def _check_unsubscribe_language(output: dict, ctx: EvalContext) -> Finding:
    name = "unsubscribe_language"
    if ctx.channel not in (ctx.unsubscribe_required_channels or ()):
        return Finding(name, PASS, "Not required for this channel.")
    finders = [_find("discourage", _DISCOURAGING), _find("own", _OWN_UNSUBSCRIBE)]
    hits = _hits(finders, _copy_texts(output))
    discouraging = [span.text for label, span in hits if label == "discourage"]
    own = [span.text for label, span in hits if label == "own"]
    own_part = (
        f"writes its own unsubscribe instructions ({_quoted(own)}), "
        "which the platform footer already provides"
    )
    if discouraging:
        also = f", and {own_part}" if own else ""
        reason = f"The copy discourages unsubscribing ({_quoted(discouraging)}){also}."
        return Finding(name, FAIL, reason, _spans(hits))
    if own:
        return Finding(name, REVIEW, f"The copy {own_part}.", _spans(hits))
    return Finding(
        name, PASS, "Nothing discourages unsubscribing or replaces the platform's footer."
    )


# --- 9. personalization_safety -------------------------------------------------------------

_PLACEHOLDER = re.compile(
    r"\{\{[^{}\n]{0,80}\}\}|\{[A-Za-z_][\w ]{0,40}\}|\*\|[A-Z_]{1,30}\|\*"
    r"|\[[^\[\]\n]{0,40}?(?:name|company|email|role|plan|organi[sz]ation)[^\[\]\n]{0,40}?\]"
    r"|<\s*[\w ]{0,40}?(?:name|company|email)[\w ]{0,40}?\s*>",
    re.IGNORECASE,
)
_GREETING = re.compile(
    r"\b(?i:hi|hello|hey|dear|welcome(?:\s+back)?|good\s+(?:morning|afternoon|evening)),?\s+"
    r"(?P<hit>[A-Z][a-zA-Z'’-]{1,30}(?:[ \t]+[A-Z][a-zA-Z'’-]{1,30})?)(?=\s*[,!.:;—–-]|\s*$)",
    re.MULTILINE,
)
_GENERIC_GREETEES = frozenset(
    {"There", "Team", "Everyone", "All", "Folks", "Friend", "Friends", "Again"}
)


def _greeting_names(text: str) -> Iterator[tuple[str, int, int]]:
    for match in _GREETING.finditer(text):
        if match.group("hit").split()[0] not in _GENERIC_GREETEES:
            yield "greeting name", *match.span("hit")


def _check_personalization_safety(output: dict, ctx: EvalContext) -> Finding:
    name = "personalization_safety"
    finders = [
        _find("placeholder", _PLACEHOLDER),
        _find("email address", _EMAIL),
        _find("phone number", _PHONE),
        _greeting_names,
    ]
    given = ctx.prompt_text if isinstance(ctx.prompt_text, str) else ""
    hits = [
        (label, span)
        for label, span in _hits(finders, _copy_texts(output))
        if label == "placeholder" or not _mentioned(span.text, (given,))
    ]
    placeholders = [span.text for label, span in hits if label == "placeholder"]
    details = _listing(
        f"'{_clip(span.text)}' ({label})" for label, span in hits if label != "placeholder"
    )
    unknown = f"personal details the prompt did not give: {details}" if details else ""
    if placeholders:
        also = f"; also check {unknown}" if unknown else ""
        reason = f"Leftover template placeholders: {_quoted(placeholders)}{also}."
        return Finding(name, FAIL, reason, _spans(hits))
    if hits:
        return Finding(name, REVIEW, f"Check {unknown}.", _spans(hits))
    return Finding(name, PASS, "No placeholders or personal details beyond what the prompt gave.")


# --- 10. risk_flags_empty ----------------------------------------------------------------


def _flags(value: Any) -> list[tuple[str, Any]]:
    """The non-blank risk flags as (field path, flag); a lone string counts as one flag."""
    items = (
        [("risk_flags", value)]
        if not isinstance(value, list)
        else [(f"risk_flags/{i}", item) for i, item in enumerate(value)]
    )
    return [(path, item) for path, item in items if not _blank(item)]


def _check_risk_flags_empty(output: dict, ctx: EvalContext) -> Finding:
    name = "risk_flags_empty"
    flags = _flags(output.get("risk_flags"))
    if not flags:
        return Finding(name, PASS, "The model raised no risk flags.")
    spans = tuple(Span(path, 0, len(flag), flag) for path, flag in flags if isinstance(flag, str))
    text = "; ".join(_clip(str(flag).strip(), 160) for _, flag in flags)
    end = "" if text[-1:] in ".!?" else "."
    return Finding(name, REVIEW, f"The model flagged: {text}{end}", spans)


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
    ]
}


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
