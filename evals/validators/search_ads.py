"""Checks for a responsive search ad (RSA): character limits, asset counts and pins, duplicates.

They apply only to outputs whose schema has the RSA shape (``is_responsive_search_ad``): arrays of
``headlines`` and ``descriptions``, each item a string or an object ``{"text", "pin"}``, and the
optional display paths ``path1`` / ``path2`` ("" for none). What the ad says is held to the
approved claims and the legal restrictions by the general ``grounding`` and ``restricted_terms``
checks, which read every reader-facing string whatever the shape.

Google Ads' limits (responsive search ads): 3 to 15 headlines of at most 30 characters, 2 to 4
descriptions of at most 90, display paths of at most 15, path2 only after path1; a headline may
be pinned to position 1, 2 or 3 and a description to 1 or 2. Characters are counted as Google
counts them for double-width scripts: a wide or fullwidth character (Chinese, Japanese, Korean,
most emoji) counts as two, combining marks and invisible format characters (zero-width joiner,
variation selectors) as none, anything else as one. JSON Schema's ``maxLength`` counts code points,
so a headline of 16 Japanese characters passes the schema and fails here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from evals.validators.findings import FAIL, PASS, REVIEW, EvalContext, Finding, Span
from evals.validators.text import _clip, _listing


@dataclass(frozen=True)
class AssetRule:
    kind: str  # "headline"
    key: str  # the output field: "headlines"
    max_chars: int
    min_count: int
    max_count: int
    pins: tuple[int, ...]  # the positions an asset of this kind may be pinned to
    required_positions: tuple[int, ...]  # positions every served ad fills


HEADLINES = AssetRule("headline", "headlines", 30, 3, 15, (1, 2, 3), (1, 2))
DESCRIPTIONS = AssetRule("description", "descriptions", 90, 2, 4, (1, 2), (1,))
ASSET_RULES = (HEADLINES, DESCRIPTIONS)
PATH_KEYS = ("path1", "path2")
PATH_MAX_CHARS = 15

# Two assets of one kind whose normalized texts are at least this similar are near-duplicates.
NEAR_DUPLICATE_RATIO = 0.9


def is_responsive_search_ad(schema: Any) -> bool:
    """Whether outputs of ``schema`` are responsive search ads: arrays of headlines and descriptions."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return False
    return all(
        isinstance(properties.get(rule.key), dict) and properties[rule.key].get("type") == "array"
        for rule in ASSET_RULES
    )


# --- Counting characters as Google does ------------------------------------------------------


def char_width(char: str) -> int:
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def ad_length(text: str) -> int:
    """``text``'s length as Google Ads counts it (see the module docstring)."""
    return sum(char_width(char) for char in text)


def overflow_start(text: str, limit: int) -> int:
    """The offset of the first character past ``limit`` (``len(text)`` when it fits)."""
    used = 0
    for index, char in enumerate(text):
        used += char_width(char)
        if used > limit:
            return index
    return len(text)


# --- Reading the ad ------------------------------------------------------------------------


@dataclass(frozen=True)
class Asset:
    rule: AssetRule
    number: int  # 1-based, as a reviewer counts
    path: str  # the field path findings use: "headlines/0" or "headlines/0/text"
    text: str | None  # None when the item holds no text
    pin: Any = None

    @property
    def label(self) -> str:
        return f"{self.rule.kind} {self.number}"

    @property
    def usable(self) -> bool:
        return isinstance(self.text, str) and bool(self.text.strip())


def assets(output: dict, rule: AssetRule) -> list[Asset]:
    """The ad's headlines (or descriptions), strings or ``{"text", "pin"}`` objects alike."""
    items = output.get(rule.key)
    if not isinstance(items, list):
        return []
    found = []
    for index, item in enumerate(items):
        path = f"{rule.key}/{index}"
        if isinstance(item, dict):
            text = item.get("text")
            found.append(
                Asset(
                    rule,
                    index + 1,
                    f"{path}/text",
                    text if isinstance(text, str) else None,
                    item.get("pin"),
                )
            )
        else:
            found.append(Asset(rule, index + 1, path, item if isinstance(item, str) else None))
    return found


def _path_text(output: dict, key: str) -> str:
    value = output.get(key)
    return value if isinstance(value, str) else ""


# --- rsa_character_limits -------------------------------------------------------------------


def _check_character_limits(output: dict, ctx: EvalContext) -> Finding:
    name = "rsa_character_limits"
    limited = [
        (asset.label, asset.path, asset.text, asset.rule.max_chars)
        for rule in ASSET_RULES
        for asset in assets(output, rule)
        if asset.usable
    ]
    limited += [
        (f"display {key.replace('path', 'path ')}", key, _path_text(output, key), PATH_MAX_CHARS)
        for key in PATH_KEYS
    ]
    parts, spans, wide = [], [], False
    for label, path, text, limit in limited:
        length = ad_length(text)
        if length <= limit:
            continue
        cut = overflow_start(text, limit)
        spans.append(Span(path, cut, len(text), text[cut:]))
        parts.append(f"{label} has {length} characters (at most {limit})")
        wide = wide or length != len(text)
    if not parts:
        return Finding(
            name,
            PASS,
            f"Every headline fits in {HEADLINES.max_chars} characters, every description in "
            f"{DESCRIPTIONS.max_chars} and every display path in {PATH_MAX_CHARS}.",
        )
    note = " Wide characters count as two." if wide else ""
    reason = f"Too long for Google Ads: {_listing(parts, most=15)}; the part past the limit is marked.{note}"
    return Finding(name, FAIL, reason, tuple(spans))


# --- rsa_assets ------------------------------------------------------------------------------


def _positions_left_empty(rule: AssetRule, usable: list[Asset]) -> list[int]:
    """Required positions no asset can fill: each needs one asset pinned there or unpinned.

    With two required positions, both fill exactly when each has a candidate and, together,
    at least two distinct assets are candidates.
    """
    unpinned = sum(1 for asset in usable if asset.pin is None)
    candidates = {
        position: unpinned + sum(1 for a in usable if a.pin == position)
        for position in rule.required_positions
    }
    empty = [position for position, count in candidates.items() if count == 0]
    needed = len(rule.required_positions)
    together = unpinned + sum(1 for a in usable if a.pin in rule.required_positions)
    if not empty and together < needed:
        empty = list(rule.required_positions[-1:])
    return empty


def _check_assets(output: dict, ctx: EvalContext) -> Finding:
    name = "rsa_assets"
    problems: list[str] = []
    spans: list[Span] = []
    counted = []
    for rule in ASSET_RULES:
        found = assets(output, rule)
        usable = [asset for asset in found if asset.usable]
        plural = f"{rule.kind}s"
        counted.append(f"{len(usable)} {plural}")
        problems += [f"{asset.label} has no text" for asset in found if not asset.usable]
        if len(usable) < rule.min_count:
            problems.append(f"{len(usable)} {plural} (at least {rule.min_count})")
        elif len(usable) > rule.max_count:
            problems.append(f"{len(usable)} {plural} (at most {rule.max_count})")
        allowed = ", ".join(map(str, rule.pins[:-1])) + f" or {rule.pins[-1]}"
        for asset in usable:
            if asset.pin is None:
                continue
            if isinstance(asset.pin, bool) or asset.pin not in rule.pins:
                problems.append(
                    f"{asset.label} is pinned to position {asset.pin!r} ({plural} pin to {allowed})"
                )
                spans.append(Span(asset.path, 0, len(asset.text), asset.text))
        valid_pins = [
            a
            for a in usable
            if a.pin is None or (not isinstance(a.pin, bool) and a.pin in rule.pins)
        ]
        if len(usable) >= rule.min_count:
            for position in _positions_left_empty(rule, valid_pins):
                problems.append(
                    f"no {rule.kind} can show in position {position}: the pins leave it empty"
                )
    path1, path2 = (_path_text(output, key).strip() for key in PATH_KEYS)
    if path2 and not path1:
        problems.append("display path 2 is set without path 1 (Google shows it only after path 1)")
    if problems:
        return Finding(
            name, FAIL, f"Not a servable ad: {_listing(problems, most=15)}.", tuple(spans)
        )
    return Finding(
        name,
        PASS,
        f"{' and '.join(counted)} ({HEADLINES.min_count} to {HEADLINES.max_count} and "
        f"{DESCRIPTIONS.min_count} to {DESCRIPTIONS.max_count}); pins and display paths in order.",
    )


# --- rsa_duplicates --------------------------------------------------------------------------

_NON_WORD = re.compile(r"[\W_]+")


def normalized(text: str) -> str:
    """Case, punctuation and runs of whitespace ignored: "Ship  faster!" -> "ship faster"."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def _near(a: str, b: str) -> bool:
    return sorted(a.split()) == sorted(b.split()) or (
        SequenceMatcher(None, a, b).ratio() >= NEAR_DUPLICATE_RATIO
    )


def _check_duplicates(output: dict, ctx: EvalContext) -> Finding:
    name = "rsa_duplicates"
    repeated: list[tuple[Asset, Asset]] = []
    similar: list[tuple[Asset, Asset]] = []
    for rule in ASSET_RULES:
        seen: list[tuple[Asset, str]] = []
        for asset in assets(output, rule):
            if not asset.usable:
                continue
            key = normalized(asset.text)
            same = next((earlier for earlier, k in seen if k == key), None)
            close = None if same else next((earlier for earlier, k in seen if _near(k, key)), None)
            if same:
                repeated.append((asset, same))
            elif close:
                similar.append((asset, close))
            if not same:
                seen.append((asset, key))

    def listed(pairs, verb):
        return _listing(
            (f"{a.label} '{_clip(a.text)}' {verb} {b.label}" for a, b in pairs), most=15
        )

    spans = tuple(Span(a.path, 0, len(a.text), a.text) for a, _ in [*repeated, *similar])
    if repeated:
        also = f"; nearly the same: {listed(similar, 'and')}" if similar else ""
        reason = f"Repeated assets Google would not combine: {listed(repeated, 'repeats')}{also}."
        return Finding(name, FAIL, reason, spans)
    if similar:
        reason = f"Nearly the same wording, which narrows the combinations: {listed(similar, 'is close to')}."
        return Finding(name, REVIEW, reason, spans)
    return Finding(name, PASS, "Every headline and every description says something different.")


# The checks in the order they run, by name.
CHECKS = (
    ("rsa_character_limits", _check_character_limits),
    ("rsa_assets", _check_assets),
    ("rsa_duplicates", _check_duplicates),
)
