"""Text helpers the validators share: the copy's strings, finders, spans and plain-sentence lists."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from typing import Any

from evals.validators.findings import (
    REVIEWER_FIELDS,
    Span,
)

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


def _blank(value: Any) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or (isinstance(value, (list, dict)) and not value)


_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
