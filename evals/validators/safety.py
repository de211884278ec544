"""Checks for the reader's safety: unsubscribe_language, personalization_safety, risk_flags_empty."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from evals.validators.findings import (
    FAIL,
    PASS,
    REVIEW,
    EvalContext,
    Finding,
    Span,
)
from evals.validators.grounding import _EMAIL, _PHONE
from evals.validators.text import (
    _blank,
    _clip,
    _copy_texts,
    _find,
    _hits,
    _listing,
    _mentioned,
    _quoted,
    _spans,
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
