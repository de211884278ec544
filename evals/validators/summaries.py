"""Checks of a summary written from a computed table: the weekly ad performance review.

The table is what the run's comparison step gave the prompt, ``EvalContext.source_data
["ad_performance"]`` (``analytics.comparison.prompt_view``: windows, platform totals, the
flagged, too small and new ads, counts and rules). Where a context has no such table (any other
workflow) each check passes as not applicable; the review's prompt cannot render without it.

- ``summary_numbers_in_table``: every number the summary writes appears in the table. A number
  in the flagged list must equal that ad's own value (sign included); a number in the text may
  match any value of the table, sign aside ("dropped 23.4 %" for -23.4), rounded to the
  decimals it is written with ("23 %" and "23.4 %" both match -23.41; "23.5 %" does not);
  thousands separators are read ("12,345"). Ad ids, ad names and the table's ISO dates are
  taken out of the text first; any other date is a number not in the table.
- ``summary_ads_exist``: every ad it names is in the table, under its own name.
- ``summary_flagged_ads_mentioned``: every ad the table flags is in the summary.
- ``summary_flags_match_table``: the summary flags no ad the table did not flag.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from evals.validators.findings import FAIL, PASS, REVIEW, EvalContext, Finding, Span
from evals.validators.text import _clip, _copy_texts, _listing

AD_TABLE = "ad_performance"
AD_LISTS = ("flagged", "too_small", "new", "compared")
FLAGGED = "flagged"
FLAGGED_NUMBERS = ("ctr_last_week", "ctr_prior_4_weeks", "change_pct")
NOT_APPLICABLE = "Not applicable: the run computed no ad performance table."

_ISO_DATE = re.compile(r"(?<!\d)\d{4}-\d{2}-\d{2}(?!\d)")
# A number not inside a word or an id ("li_ad_101", "Q4"); "12k" reads as 12, not understood.
_TEXT_NUMBER = re.compile(r"(?<![\w.,])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![.,]?\d)")
_NAME_FIELD = re.compile(r"^flagged/\d+/(?:ad_id|ad_name)$")
_QUOTED = re.compile(r"[\"“”‘’'«]([^\"“”‘’'«»\n]{3,80})[\"“”‘’'»]")


def _table(ctx: EvalContext) -> dict | None:
    table = (ctx.source_data or {}).get(AD_TABLE)
    return table if isinstance(table, dict) else None


def _entries(table: dict) -> Iterator[dict]:
    for name in AD_LISTS:
        for entry in table.get(name) or []:
            if isinstance(entry, dict) and entry.get("ad_id"):
                yield entry


def _names_by_id(table: dict) -> dict[str, set[str]]:
    names: dict[str, set[str]] = {}
    for entry in _entries(table):
        names.setdefault(str(entry["ad_id"]), set()).add(str(entry.get("ad_name") or ""))
    return names


def _flagged_items(output: dict) -> list[tuple[int, dict]]:
    items = output.get(FLAGGED)
    if not isinstance(items, list):
        return []
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)]


def _summary_texts(output: dict) -> list[tuple[str, str]]:
    return [(path, text) for path, text in _copy_texts(output) if not _NAME_FIELD.match(path)]


def _mentions(phrase: str) -> re.Pattern:
    return re.compile(r"(?<![\w-])" + re.escape(phrase.strip()) + r"(?![\w-])", re.IGNORECASE)


# --- Numbers -------------------------------------------------------------------------------


def _numbers(value: Any) -> Iterator[float]:
    """Every number in the table, and the length of every list (a count the text may give)."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield float(value)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _numbers(item)
    elif isinstance(value, list):
        yield float(len(value))
        for item in value:
            yield from _numbers(item)


def _dates(value: Any) -> Iterator[str]:
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _dates(item)
    elif isinstance(value, list):
        for item in value:
            yield from _dates(item)


def _decimals(written: str) -> int:
    return len(written.partition(".")[2])


def _close(written: float, decimals: int, value: float) -> bool:
    return abs(value - written) <= 0.5 * 10**-decimals + 1e-9


def _json_decimals(number: float | int) -> int:
    return 0 if isinstance(number, int) else _decimals(repr(float(number)).rstrip("0"))


def _blank_out(text: str, pattern: re.Pattern) -> str:
    return pattern.sub(lambda m: " " * len(m.group()), text)


def _check_summary_numbers_in_table(output: dict, ctx: EvalContext) -> Finding:
    name = "summary_numbers_in_table"
    table = _table(ctx)
    if table is None:
        return Finding(name, PASS, NOT_APPLICABLE)
    values = [abs(v) for v in _numbers(table)]
    dates = set(_dates(table))
    by_id = {str(e["ad_id"]): e for e in _entries(table)}
    problems: list[str] = []
    spans: list[Span] = []

    for index, item in _flagged_items(output):
        own = by_id.get(str(item.get("ad_id")))
        for field in FLAGGED_NUMBERS:
            number = item.get(field)
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                continue
            decimals = _json_decimals(number)
            if own is not None and isinstance(own.get(field), (int, float)):
                if not _close(float(number), decimals, float(own[field])):
                    problems.append(
                        f"{field} {number} for {item.get('ad_id')} (the table says {own[field]})"
                    )
            elif not any(_close(abs(float(number)), decimals, v) for v in values):
                problems.append(f"{field} {number} for {item.get('ad_id')} (not in the table)")

    names = sorted(
        {str(i) for i in by_id} | {n for ns in _names_by_id(table).values() for n in ns if n},
        key=len,
        reverse=True,
    )
    for path, text in _summary_texts(output):
        masked = text
        for known in names:
            masked = _blank_out(masked, _mentions(known))
        for match in _ISO_DATE.finditer(masked):
            if match.group() not in dates:
                problems.append(f"the date {match.group()} in {path} (not a date of the table)")
                spans.append(Span(path, match.start(), match.end(), match.group()))
        masked = _blank_out(masked, _ISO_DATE)
        for match in _TEXT_NUMBER.finditer(masked):
            written = match.group().lstrip("-+−").replace(",", "")
            number = float(written)
            if not any(_close(number, _decimals(written), v) for v in values):
                problems.append(f"{match.group()} in {path}")
                spans.append(Span(path, match.start(), match.end(), match.group()))
    if problems:
        return Finding(
            name,
            FAIL,
            f"Numbers that are not in the computed table: {_listing(problems)}.",
            tuple(spans),
        )
    return Finding(name, PASS, "Every number in the summary is in the computed table.")


# --- Ads -----------------------------------------------------------------------------------


def _id_like(ids: set[str]) -> re.Pattern | None:
    """Tokens shaped like the table's ad ids: their prefix before the trailing digits, then digits."""
    prefixes = {re.sub(r"\d+$", "", i) for i in ids if re.search(r"\D\d+$", i)}
    prefixes = {p for p in prefixes if p}
    if not prefixes:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(prefixes, key=len, reverse=True))
    return re.compile(rf"(?<![\w-])(?:{alternatives})\d+(?![\w-])", re.IGNORECASE)


def _check_summary_ads_exist(output: dict, ctx: EvalContext) -> Finding:
    name = "summary_ads_exist"
    table = _table(ctx)
    if table is None:
        return Finding(name, PASS, NOT_APPLICABLE)
    names = _names_by_id(table)
    known_ids = {i.lower() for i in names}
    known_names = {n.strip().lower() for ns in names.values() for n in ns if n.strip()}
    unknown: list[str] = []
    spans: list[Span] = []
    for index, item in _flagged_items(output):
        ad_id = str(item.get("ad_id") or "").strip()
        ad_name = str(item.get("ad_name") or "").strip()
        if ad_id not in names:
            unknown.append(f"ad {ad_id or '(no id)'} in the flagged list")
            if ad_id:
                spans.append(Span(f"flagged/{index}/ad_id", 0, len(ad_id), ad_id))
        elif ad_name.lower() not in {n.strip().lower() for n in names[ad_id]}:
            unknown.append(
                f"'{_clip(ad_name)}' as the name of {ad_id} (the table calls it "
                f"'{_clip(sorted(names[ad_id])[0])}')"
            )
            spans.append(Span(f"flagged/{index}/ad_name", 0, len(ad_name), ad_name))
    pattern = _id_like(set(names))
    quoted: list[str] = []
    for path, text in _summary_texts(output):
        for match in pattern.finditer(text) if pattern else ():
            if match.group().lower() not in known_ids:
                unknown.append(f"ad {match.group()} in {path}")
                spans.append(Span(path, match.start(), match.end(), match.group()))
        for match in _QUOTED.finditer(text):
            phrase = match.group(1).strip()
            if phrase.lower() not in known_names | known_ids:
                quoted.append(f"'{_clip(phrase)}' in {path}")
                spans.append(Span(path, match.start(1), match.end(1), match.group(1)))
    if unknown:
        return Finding(
            name,
            FAIL,
            f"The summary names ads that are not in the computed table: {_listing(unknown)}.",
            tuple(spans),
        )
    if quoted:
        return Finding(
            name,
            REVIEW,
            f"The summary quotes names that are no ad of the table: {_listing(quoted)}; check they name no ad.",
            tuple(spans),
        )
    return Finding(name, PASS, "Every ad the summary names is in the computed table.")


def _check_summary_flagged_ads_mentioned(output: dict, ctx: EvalContext) -> Finding:
    name = "summary_flagged_ads_mentioned"
    table = _table(ctx)
    if table is None:
        return Finding(name, PASS, NOT_APPLICABLE)
    flagged = [e for e in table.get(FLAGGED) or [] if isinstance(e, dict) and e.get("ad_id")]
    if not flagged:
        return Finding(name, PASS, "The computed table flags no ad.")
    listed = {str(item.get("ad_id") or "").strip() for _, item in _flagged_items(output)}
    texts = [text for _, text in _summary_texts(output)]
    missing = []
    for entry in flagged:
        ad_id, ad_name = str(entry["ad_id"]), str(entry.get("ad_name") or "")
        if ad_id in listed:
            continue
        phrases = [ad_id] + ([ad_name] if ad_name.strip() else [])
        if not any(_mentions(p).search(text) for p in phrases for text in texts):
            missing.append(f"{ad_id} ({_clip(ad_name)})" if ad_name else ad_id)
    if missing:
        return Finding(
            name,
            FAIL,
            f"Flagged in the computed table but not in the summary: {_listing(missing)}.",
        )
    return Finding(name, PASS, f"All {len(flagged)} flagged ads are in the summary.")


def _check_summary_flags_match_table(output: dict, ctx: EvalContext) -> Finding:
    name = "summary_flags_match_table"
    table = _table(ctx)
    if table is None:
        return Finding(name, PASS, NOT_APPLICABLE)
    flagged = {str(e.get("ad_id")) for e in table.get(FLAGGED) or [] if isinstance(e, dict)}
    listed_as = {}
    for list_name, label in (("too_small", "too small to judge"), ("new", "new (no prior data)")):
        for entry in table.get(list_name) or []:
            if isinstance(entry, dict):
                listed_as[str(entry.get("ad_id"))] = label
    threshold = (table.get("rules") or {}).get("drop_threshold_pct")
    invented, spans = [], []
    for index, item in _flagged_items(output):
        ad_id = str(item.get("ad_id") or "").strip()
        if not ad_id or ad_id in flagged:
            continue
        why = listed_as.get(ad_id) or (
            f"not dropped by more than {threshold:g} %"
            if isinstance(threshold, (int, float))
            else "not flagged"
        )
        invented.append(f"{ad_id} (the table: {why})")
        spans.append(Span(f"flagged/{index}/ad_id", 0, len(ad_id), ad_id))
    if invented:
        return Finding(
            name,
            FAIL,
            f"The summary flags ads the computed table did not flag: {_listing(invented)}.",
            tuple(spans),
        )
    return Finding(name, PASS, "The summary flags only ads the computed table flagged.")
