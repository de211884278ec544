"""The schema walk behind the run page, the approval checkpoint and the output export: no database."""

from __future__ import annotations

from workflows import output_display as od
from workflows import rendering
from workflows.output_display import DisplayNode, Mark

AD_SUMMARY_SCHEMA = {
    "type": "object",
    "properties": {
        "headline": {
            "type": "string",
            "title": "Headline",
            "description": "The week in one sentence.",
            "maxLength": 120,
        },
        "flagged_creatives": {
            "type": "array",
            "title": "Flagged creatives",
            "description": "Ads whose click-through rate moved most.",
            "items": {"$ref": "#/$defs/creative"},
        },
        "observations": {"type": "array", "items": {"type": "string"}},
        "suggested_actions": {
            "type": "string",
            "title": "Suggested actions",
            "maxLength": 2000,
        },
        "on_track": {"type": "boolean", "title": "On track"},
    },
    "required": ["headline", "flagged_creatives", "observations", "suggested_actions"],
    "$defs": {
        "creative": {
            "type": "object",
            "title": "Creative",
            "properties": {
                "ad_name": {"type": "string", "title": "Ad name"},
                "ctr_last_week": {"type": "number", "title": "CTR last week"},
                "change_pct": {
                    "type": "number",
                    "title": "Change (%)",
                    "description": "Against the week before.",
                },
            },
        }
    },
}

AD_SUMMARY = {
    "headline": "Search ads held steady; two social creatives slipped.",
    "flagged_creatives": [
        {"ad_name": "Spring sale carousel", "ctr_last_week": 0.8, "change_pct": -35},
        {"ad_name": "Guaranteed results video", "ctr_last_week": 2.1, "change_pct": 12.5},
    ],
    "observations": ["Mobile CTR fell on Tuesday.", "Brand search grew 4%."],
    "suggested_actions": "Pause the carousel.\nRefresh the video's first frame.",
}


def by_key(nodes: list[DisplayNode]) -> dict[str, DisplayNode]:
    return {node.key: node for node in nodes}


def test_labels_and_help_come_from_the_schemas_titles_and_descriptions():
    nodes = by_key(od.display_nodes(AD_SUMMARY_SCHEMA, AD_SUMMARY))

    assert nodes["headline"].label == "Headline"
    assert nodes["headline"].help == "The week in one sentence."
    assert nodes["flagged_creatives"].help == "Ads whose click-through rate moved most."
    # No title: the key, made readable.
    assert nodes["observations"].label == "Observations" and nodes["observations"].help == ""


def test_fields_follow_the_schemas_order_whatever_the_contents():
    content = dict(reversed(list(AD_SUMMARY.items())))

    keys = [node.key for node in od.display_nodes(AD_SUMMARY_SCHEMA, content)]

    assert keys == [
        "headline",
        "flagged_creatives",
        "observations",
        "suggested_actions",
        "on_track",
    ]


def test_required_gives_the_order_when_the_database_sorted_the_properties():
    """Postgres's jsonb stores an object's keys by length: the required list keeps the author's order."""
    as_jsonb_stores_it = {
        **AD_SUMMARY_SCHEMA,
        "properties": dict(
            sorted(AD_SUMMARY_SCHEMA["properties"].items(), key=lambda kv: (len(kv[0]), kv[0]))
        ),
        "required": ["headline", "flagged_creatives", "observations", "suggested_actions"],
    }

    keys = [node.key for node in od.display_nodes(as_jsonb_stores_it, AD_SUMMARY)]

    assert keys == [
        "headline",
        "flagged_creatives",
        "observations",
        "suggested_actions",
        "on_track",  # not required: after the required ones, as stored
    ]
    assert list(rendering.schema_outline(as_jsonb_stores_it))[:4] == keys[:4]


def test_short_and_long_text_are_told_apart_by_line_breaks_length_and_max_length():
    schema = {
        "type": "object",
        "properties": {
            "cta": {"type": "string", "maxLength": 30},
            "body": {"type": "string", "maxLength": 1200},
            "note": {"type": "string"},
            "essay": {"type": "string"},
        },
    }
    content = {"cta": "Go", "body": "Short today", "note": "a\nb", "essay": "x" * 500}

    kinds = {node.key: node.kind for node in od.display_nodes(schema, content)}

    assert kinds == {
        "cta": od.SHORT_TEXT,
        "body": od.LONG_TEXT,
        "note": od.LONG_TEXT,
        "essay": od.LONG_TEXT,
    }


def test_an_array_of_strings_is_a_list_whose_items_carry_their_field_paths():
    observations = by_key(od.display_nodes(AD_SUMMARY_SCHEMA, AD_SUMMARY))["observations"]

    assert observations.kind == od.LIST
    assert [(c.path, c.kind, c.value) for c in observations.children] == [
        ("observations/0", od.SHORT_TEXT, "Mobile CTR fell on Tuesday."),
        ("observations/1", od.SHORT_TEXT, "Brand search grew 4%."),
    ]


def test_an_array_of_objects_nests_each_object_with_titles_from_a_ref():
    creatives = by_key(od.display_nodes(AD_SUMMARY_SCHEMA, AD_SUMMARY))["flagged_creatives"]

    first = creatives.children[0]
    assert first.kind == od.OBJECT and first.label == "Creative 1"
    fields = by_key(first.children)
    assert [(n.label, n.path, n.kind) for n in first.children] == [
        ("Ad name", "flagged_creatives/0/ad_name", od.SHORT_TEXT),
        ("CTR last week", "flagged_creatives/0/ctr_last_week", od.NUMBER),
        ("Change (%)", "flagged_creatives/0/change_pct", od.NUMBER),
    ]
    assert (
        fields["change_pct"].value == -35
        and fields["change_pct"].help == "Against the week before."
    )


def test_a_nested_object_shows_its_own_fields():
    schema = {
        "type": "object",
        "properties": {
            "audience": {
                "type": "object",
                "title": "Audience",
                "properties": {"size": {"type": "integer", "title": "Size"}},
            }
        },
    }

    (audience,) = od.display_nodes(schema, {"audience": {"size": 1200, "region": "EU"}})

    assert audience.kind == od.OBJECT
    assert [(c.label, c.path, c.in_schema) for c in audience.children] == [
        ("Size", "audience/size", True),
        ("Region", "audience/region", False),
    ]


def test_a_field_the_content_lacks_is_shown_as_missing():
    on_track = by_key(od.display_nodes(AD_SUMMARY_SCHEMA, AD_SUMMARY))["on_track"]

    assert on_track.kind == od.MISSING and on_track.label == "On track"


def test_fields_outside_the_schema_are_still_shown_after_the_schemas():
    content = {**AD_SUMMARY, "model_notes": "Free text the model added.", "on_track": True}

    nodes = od.display_nodes(AD_SUMMARY_SCHEMA, content)

    assert nodes[-1].key == "model_notes" and nodes[-1].label == "Model notes"
    assert not nodes[-1].in_schema and all(n.in_schema for n in nodes[:-1])
    assert by_key(nodes)["on_track"].kind == od.BOOLEAN


def test_without_a_schema_every_field_is_shown_from_its_value():
    nodes = od.display_nodes(None, {"title_text": "Hi", "scores": [1, 2], "meta": {"a": None}})

    assert [(n.label, n.kind) for n in nodes] == [
        ("Title text", od.SHORT_TEXT),
        ("Scores", od.LIST),
        ("Meta", od.OBJECT),
    ]
    assert nodes[1].children[1].kind == od.NUMBER and nodes[2].children[0].kind == od.MISSING


def test_content_that_is_not_an_object_is_one_field():
    (node,) = od.display_nodes(AD_SUMMARY_SCHEMA, ["not", "an", "object"])

    assert node.label == "Output" and node.kind == od.LIST and len(node.children) == 3


def test_marks_land_on_the_field_path_they_name_nested_ones_included():
    mark = Mark(0, 10, "restricted_terms", "fail", "Promises results")

    nodes = od.display_nodes(AD_SUMMARY_SCHEMA, AD_SUMMARY, {"flagged_creatives/1/ad_name": [mark]})

    ad_name = by_key(by_key(nodes)["flagged_creatives"].children[1].children)["ad_name"]
    assert ad_name.segments == (
        od.Segment("Guaranteed", mark),
        od.Segment(" results video"),
    )
    other = by_key(by_key(nodes)["flagged_creatives"].children[0].children)["ad_name"]
    assert all(piece.mark is None for piece in other.segments)


def test_segments_skip_marks_out_of_range_empty_or_overlapping():
    marks = [
        Mark(1, 4, "a", "fail", ""),
        Mark(2, 5, "b", "fail", ""),
        Mark(4, 99, "c", "review", ""),
    ]

    pieces = od.segments("abcdef", marks)

    assert [(p.text, p.mark is not None) for p in pieces] == [
        ("a", False),
        ("bcd", True),
        ("ef", False),
    ]


def test_summary_is_the_first_short_text_or_the_first_item_of_the_first_list_of_texts():
    email_schema = {
        "type": "object",
        "properties": {
            "subject_lines": {"type": "array", "items": {"type": "string"}},
            "email_body": {"type": "string", "maxLength": 1200},
        },
    }
    email = {"subject_lines": ["Your trial ends Friday", "b"], "email_body": "Hi"}

    assert od.summary(od.display_nodes(email_schema, email)) == "Your trial ends Friday"
    assert od.summary(od.display_nodes(AD_SUMMARY_SCHEMA, AD_SUMMARY)) == AD_SUMMARY["headline"]
    assert od.summary(od.display_nodes(email_schema, {"email_body": "x\ny"})) == ""


def test_a_text_whose_schema_sets_max_length_carries_its_count_and_limit():
    schema = {
        "type": "object",
        "properties": {
            "headlines": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"type": "string", "maxLength": 30},
                        {
                            "type": "object",
                            "properties": {"text": {"type": "string", "maxLength": 30}},
                        },
                    ]
                },
            },
            "note": {"type": "string"},
        },
    }
    content = {"headlines": ["Cycle Time Dashboards", {"text": "x" * 31}], "note": "Free text"}

    headlines, note = od.display_nodes(schema, content)

    short, pinned = headlines.children
    assert (short.length, short.max_length, short.over_limit) == (21, 30, False)
    (text,) = pinned.children
    assert (text.path, text.length, text.max_length, text.over_limit) == (
        "headlines/1/text",
        31,
        30,
        True,
    )
    assert note.max_length is None and not note.over_limit


def test_summary_of_a_list_of_objects_is_the_first_objects_first_short_text():
    schema = {"type": "object", "properties": {"headlines": {"type": "array"}}}
    content = {"headlines": [{"pin": 1, "text": "Kestrel Boards"}, "Second"]}

    assert od.summary(od.display_nodes(schema, content)) == "Kestrel Boards"


def test_flat_fields_name_every_leaf_by_its_field_path_in_reading_order():
    rows = od.flat_fields(od.display_nodes(AD_SUMMARY_SCHEMA, {**AD_SUMMARY, "observations": []}))

    assert rows[:4] == [
        ("headline", "Headline", AD_SUMMARY["headline"]),
        (
            "flagged_creatives/0/ad_name",
            "Flagged creatives / Creative 1 / Ad name",
            "Spring sale carousel",
        ),
        (
            "flagged_creatives/0/ctr_last_week",
            "Flagged creatives / Creative 1 / CTR last week",
            0.8,
        ),
        ("flagged_creatives/0/change_pct", "Flagged creatives / Creative 1 / Change (%)", -35),
    ]
    paths = [path for path, _, _ in rows]
    assert paths[-3:] == ["observations", "suggested_actions", "on_track"]
    assert rows[-1][2] == "" and rows[-2][2] == AD_SUMMARY["suggested_actions"]
    on_track = od.flat_fields(od.display_nodes(AD_SUMMARY_SCHEMA, {"on_track": False}))[-1]
    assert on_track == ("on_track", "On track", "false")


def test_humanize_reads_snake_and_camel_case():
    assert od.humanize("email_body") == "Email body"
    assert od.humanize("ctrLastWeek") == "Ctr last week"
    assert od.humanize("cta-text") == "Cta text"
