"""A run's output as people read it, driven by the output schema. Pure functions: no Django, no ORM.

``display_nodes(schema, content)`` walks the content alongside its JSON Schema and returns an
ordered tree of ``DisplayNode``: each field's label (the schema's ``title``, else the key made
readable), its help (the schema's ``description``), its kind, its field path (``email_body``,
``subject_lines/1``, ``flagged_creatives/0/ad_name``: the paths findings name) and its children.
Schema properties come first, in the schema's order (``required`` first: see
``ordered_properties``); fields the content has and the schema
does not follow, so nothing the model wrote is hidden. The template
``admin/workflows/includes/output_fields.html`` renders the nodes on the run page and the
approval checkpoint, so a new workflow kind needs no template of its own.

A text leaf whose schema sets ``maxLength`` carries it, so a page shows "24/30" next to the
text and marks a text over its limit; the count is in code points, as JSON Schema counts.

Text leaves are split into ``Segment`` s; given ``marks`` (spans per field path, as the approval
checkpoint has them) the marked pieces carry their ``Mark`` and are rendered as ``<mark>``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Node kinds, one template branch each.
SHORT_TEXT = "short_text"
LONG_TEXT = "long_text"
NUMBER = "number"
BOOLEAN = "boolean"
LIST = "list"
OBJECT = "object"
MISSING = "missing"  # a schema field the content does not have, or null

# A string is long text (shown as a block keeping its line breaks) when it has a line break, when
# it is longer than this, or when its schema allows more than LONG_TEXT_MAX_LENGTH characters.
LONG_TEXT_CHARS = 160
LONG_TEXT_MAX_LENGTH = 200

# How deep the walk follows nested objects and arrays; deeper values are shown as text.
MAX_DEPTH = 12


@dataclass(frozen=True)
class Mark:
    """A span of one field's text that a check did not pass."""

    start: int
    end: int
    check: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class Segment:
    text: str
    mark: Mark | None = None


@dataclass(frozen=True)
class DisplayNode:
    key: str  # the property name, or the item's index for an array item
    path: str  # the field path findings use: "email_body", "subject_lines/1"
    label: str
    help: str
    kind: str
    value: Any = None  # the scalar shown (text, number, boolean); None for lists and objects
    segments: tuple[Segment, ...] = ()  # text leaves only
    children: tuple[DisplayNode, ...] = ()
    in_schema: bool = True
    max_length: int | None = None  # text leaves whose schema sets maxLength

    @property
    def length(self) -> int:
        return len(self.value) if self.is_text else 0

    @property
    def over_limit(self) -> bool:
        return self.max_length is not None and self.length > self.max_length

    @property
    def is_text(self) -> bool:
        return self.kind in (SHORT_TEXT, LONG_TEXT)

    @property
    def text(self) -> str:
        """The value as text ("" for lists, objects and missing values)."""
        return _as_text(self.value) if self.kind not in (LIST, OBJECT) else ""

    def leaves(self) -> Iterator[DisplayNode]:
        """The nodes under this one that hold a value; an empty list or object is its own leaf."""
        if not self.children:
            yield self
        for child in self.children:
            yield from child.leaves()


def display_nodes(
    schema: Any, content: Any, marks: Mapping[str, Sequence[Mark]] | None = None
) -> list[DisplayNode]:
    """The fields of ``content`` in reading order, labelled from ``schema`` (see the module docstring)."""
    schema = schema if isinstance(schema, dict) else {}
    marks = marks or {}
    if not isinstance(content, dict):
        node = _node(
            "output", "", "Output", _resolve(schema, schema), content, schema, marks, in_schema=True
        )
        return [node]
    return list(_object_children(schema, _resolve(schema, schema), content, "", marks, depth=0))


def summary(nodes: Iterable[DisplayNode]) -> str:
    """One line for a list column: the first short text, or the first item of the first list of
    texts (of an object item, its first short text)."""
    for node in nodes:
        if node.kind == SHORT_TEXT and node.value:
            return node.value
        if node.kind == LIST and node.children:
            first = node.children[0]
            if first.is_text and first.value:
                return first.value
            if first.kind == OBJECT:
                text = next((c.value for c in first.children if c.kind == SHORT_TEXT), "")
                if text:
                    return text
    return ""


def flat_fields(nodes: Iterable[DisplayNode]) -> list[tuple[str, str, Any]]:
    """(field path, label, value) for every leaf, in reading order: an export's rows or columns.

    Numbers stay numbers, booleans are "true" or "false", text is text; a missing value, an
    empty list or an empty object is "", so every field of the schema appears.
    """
    rows = []
    for node in nodes:
        for leaf in node.leaves():
            rows.append((leaf.path, _path_label(node, leaf), _export_value(leaf)))
    return rows


def segments(text: str, marks: Sequence[Mark]) -> tuple[Segment, ...]:
    """``text`` cut at the marks; marks out of range, empty or overlapping an earlier one are skipped."""
    text = text if isinstance(text, str) else str(text)
    pieces: list[Segment] = []
    position = 0
    for mark in sorted(marks, key=lambda m: (m.start, -m.end)):
        if mark.start < position or mark.end <= mark.start or mark.end > len(text):
            continue
        if mark.start > position:
            pieces.append(Segment(text[position : mark.start]))
        pieces.append(Segment(text[mark.start : mark.end], mark))
        position = mark.end
    if position < len(text) or not pieces:
        pieces.append(Segment(text[position:]))
    return tuple(pieces)


def humanize(key: str) -> str:
    """ "email_body" -> "Email body"; "ctrLastWeek" -> "Ctr last week"."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(key)).replace("_", " ").replace("-", " ")
    words = " ".join(words.split()).lower()
    return words[:1].upper() + words[1:] if words else str(key)


# --- The walk ------------------------------------------------------------------------------


def ordered_properties(schema: dict) -> list[tuple[str, dict]]:
    """An object schema's properties in the author's order: those in ``required`` (a list keeps
    its order everywhere), then the others as stored. A JSON object's key order is not kept by
    every database: Postgres's jsonb stores ``properties`` sorted by key length."""
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return []
    required = schema.get("required")
    first = (
        [k for k in dict.fromkeys(required) if k in properties]
        if isinstance(required, list)
        else []
    )
    return [(k, properties[k]) for k in first] + [
        (k, v) for k, v in properties.items() if k not in first
    ]


def _object_children(
    root: dict, schema: dict, content: dict, prefix: str, marks, *, depth: int
) -> Iterator[DisplayNode]:
    properties = dict(ordered_properties(schema))
    for key, subschema in properties.items():
        yield _node(
            key,
            _join(prefix, key),
            None,
            _resolve(root, subschema),
            content.get(key),
            root,
            marks,
            depth=depth,
        )
    for key, value in content.items():
        if key in properties:
            continue
        subschema = _additional_schema(root, schema)
        yield _node(
            str(key),
            _join(prefix, str(key)),
            None,
            subschema,
            value,
            root,
            marks,
            depth=depth,
            in_schema=bool(subschema),
        )


def _node(
    key: str,
    path: str,
    label: str | None,
    schema: dict,
    value: Any,
    root: dict,
    marks,
    *,
    depth: int = 0,
    in_schema: bool = True,
) -> DisplayNode:
    schema = _branch_for(root, schema, value)
    title = schema.get("title")
    label = label or (title if isinstance(title, str) and title.strip() else humanize(key))
    description = schema.get("description")
    help_text = description if isinstance(description, str) else ""
    common = {"key": key, "path": path, "label": label, "help": help_text, "in_schema": in_schema}
    if value is None:
        return DisplayNode(kind=MISSING, **common)
    if depth >= MAX_DEPTH and isinstance(value, (dict, list)):
        value = _as_text(value)
    if isinstance(value, dict):
        children = tuple(_object_children(root, schema, value, path, marks, depth=depth + 1))
        return DisplayNode(kind=OBJECT, children=children, **common)
    if isinstance(value, list):
        items = _resolve(root, schema.get("items")) if isinstance(schema.get("items"), dict) else {}
        children = tuple(
            _node(
                str(index),
                _join(path, str(index)),
                _item_label(items, index),
                items,
                item,
                root,
                marks,
                depth=depth + 1,
                in_schema=in_schema,
            )
            for index, item in enumerate(value)
        )
        return DisplayNode(kind=LIST, children=children, **common)
    if isinstance(value, bool):
        return DisplayNode(kind=BOOLEAN, value=value, **common)
    if isinstance(value, (int, float)):
        return DisplayNode(kind=NUMBER, value=value, **common)
    text = value if isinstance(value, str) else str(value)
    kind = LONG_TEXT if _is_long(schema, text) else SHORT_TEXT
    max_length = schema.get("maxLength")
    return DisplayNode(
        kind=kind,
        value=text,
        segments=segments(text, marks.get(path, ())),
        max_length=max_length
        if isinstance(max_length, int) and not isinstance(max_length, bool)
        else None,
        **common,
    )


def _item_label(items: dict, index: int) -> str:
    title = items.get("title")
    number = str(index + 1)
    return f"{title} {number}" if isinstance(title, str) and title.strip() else number


def _is_long(schema: dict, text: str) -> bool:
    max_length = schema.get("maxLength")
    return (
        "\n" in text
        or len(text) > LONG_TEXT_CHARS
        or (isinstance(max_length, int) and max_length > LONG_TEXT_MAX_LENGTH)
    )


def _additional_schema(root: dict, schema: dict) -> dict:
    additional = schema.get("additionalProperties")
    return _resolve(root, additional) if isinstance(additional, dict) else {}


def _resolve(root: dict, schema: Any, seen: int = 0) -> dict:
    """``schema`` with a local ``$ref`` ("#/$defs/creative") followed; {} for anything unusable."""
    if not isinstance(schema, dict):
        return {}
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#") or seen > 10:
        return schema
    target: Any = root
    pointer = ref[1:].strip("/")
    for part in pointer.split("/") if pointer else ():
        part = part.replace("~1", "/").replace("~0", "~")
        target = target.get(part) if isinstance(target, dict) else None
    resolved = _resolve(root, target, seen + 1)
    # Keywords beside the $ref (a title, a description) take precedence over the target's.
    return {**resolved, **{k: v for k, v in schema.items() if k != "$ref"}}


def _branch_for(root: dict, schema: dict, value: Any) -> dict:
    """For ``anyOf`` / ``oneOf``, the first alternative whose type fits ``value``."""
    for keyword in ("anyOf", "oneOf"):
        alternatives = schema.get(keyword)
        if not isinstance(alternatives, list):
            continue
        for alternative in alternatives:
            alternative = _resolve(root, alternative)
            if _type_fits(alternative.get("type"), value):
                rest = {k: v for k, v in schema.items() if k not in ("anyOf", "oneOf")}
                return {**alternative, **rest}
    return schema


_JSON_TYPES = {
    "string": lambda v: isinstance(v, str),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "null": lambda v: v is None,
}


def _type_fits(declared: Any, value: Any) -> bool:
    types = declared if isinstance(declared, list) else [declared]
    return any(_JSON_TYPES.get(t, lambda v: False)(value) for t in types if isinstance(t, str))


def _join(prefix: str, key: str) -> str:
    return f"{prefix}/{key}" if prefix else key


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _export_value(leaf: DisplayNode) -> Any:
    if leaf.kind == NUMBER:
        return leaf.value
    if leaf.kind == BOOLEAN:
        return "true" if leaf.value else "false"
    return leaf.text


def _path_label(top: DisplayNode, leaf: DisplayNode) -> str:
    """The leaf's label with its ancestors': "Flagged creatives 1 Ad name"."""
    labels: list[str] = []

    def walk(node: DisplayNode, trail: list[str]) -> bool:
        trail = [*trail, node.label]
        if node is leaf:
            labels.extend(trail)
            return True
        return any(walk(child, trail) for child in node.children)

    walk(top, [])
    return " / ".join(labels)
