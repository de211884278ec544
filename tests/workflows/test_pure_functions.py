"""Rendering, output contracts, redaction and request shaping: pure functions, no database."""

import json

import pytest

from workflows import contracts, rendering
from workflows.generation import cache_key, correction_message
from workflows.llm import StructuredOutput, response_format
from workflows.redaction import REDACTED, redact, safe_url

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["subject_lines", "cta_text"],
    "properties": {
        "subject_lines": {
            "type": "array",
            "minItems": 3,
            "maxItems": 3,
            "items": {"type": "string", "maxLength": 48},
        },
        "cta_text": {"type": "string", "maxLength": 30},
    },
}


class TestRendering:
    def test_render_fills_every_placeholder_and_serialises_structures(self):
        text = rendering.render(
            "Brief: {{campaign_brief}}\nClaims: {{ approved_claims }}",
            {
                "campaign_brief": "  Upgrade push ",
                "approved_claims": [{"id": "sso", "claim": "SSO on all plans"}],
            },
        )
        assert text.startswith("Brief: Upgrade push\nClaims: [")
        assert json.loads(text.split("Claims: ", 1)[1]) == [
            {"id": "sso", "claim": "SSO on all plans"}
        ]

    def test_render_refuses_a_placeholder_without_value(self):
        with pytest.raises(rendering.RenderError, match="audience, legal_restrictions"):
            rendering.render(
                "{{audience}} {{legal_restrictions}} {{campaign_brief}}", {"campaign_brief": "x"}
            )

    def test_template_variables_lists_placeholders_once(self):
        assert rendering.template_variables("{{a}} {{ b }} {{a}} {not_one}") == {"a", "b"}

    def test_render_picks_a_field_of_a_variable_with_a_dot(self):
        brief = {
            "offer": "15% off the first year.",
            "offer_expires_at": None,
            "key_facts": ["Ends in 3 days."],
        }
        text = rendering.render(
            "Offer: {{campaign_brief.offer}}\nEnds: {{ campaign_brief.offer_expires_at }}\nFacts: {{campaign_brief.key_facts}}",
            {"campaign_brief": brief},
        )
        assert text == 'Offer: 15% off the first year.\nEnds: \nFacts: [\n  "Ends in 3 days."\n]'
        assert rendering.template_variables("{{campaign_brief.offer}} {{audience}}") == {
            "campaign_brief",
            "audience",
        }
        assert rendering.template_fields("{{campaign_brief.offer}} {{audience}}") == {
            "campaign_brief.offer"
        }

    def test_render_refuses_a_field_the_variable_does_not_have(self):
        with pytest.raises(rendering.RenderError, match=r"campaign_brief has no field 'budget'"):
            rendering.render("{{campaign_brief.budget}}", {"campaign_brief": {"offer": None}})

    def test_placeholder_problems_name_unknown_variables_and_fields(self):
        assert (
            rendering.placeholder_problems(
                "{{campaign_brief.offer}} {{audience}} {{output_schema}}"
            )
            == []
        )
        problems = rendering.placeholder_problems(
            "{{budget}} {{campaign_brief.budget}} {{audience.role}} {{campaign_brief.offer.text}}"
        )
        assert problems[0].startswith("Unknown placeholders: budget. Available: ")
        assert "{{audience.role}}: audience has no fields to pick; use {{audience}}." in problems
        assert sum("campaign_brief has the fields" in p for p in problems) == 2

    def test_campaign_brief_fields_are_exactly_what_a_brief_renders(self):
        from types import SimpleNamespace

        from workflows.prompts import campaign_brief_variables

        brief = SimpleNamespace(
            label="b1",
            name="Internal name",
            plan_name="Team",
            offer="",
            offer_expires_at=None,
            key_facts="Ends in 3 days.",
        )
        variables = campaign_brief_variables(brief)
        assert set(variables) == rendering.KNOWN_FIELDS["campaign_brief"]
        assert variables["offer"] is None, (
            "no offer is data (null), not an instruction a model could copy"
        )

    def test_prompt_version_refuses_unknown_fields_in_either_prompt(self):
        from django.core.exceptions import ValidationError

        from workflows.models import PromptVersion

        version = PromptVersion(
            output_schema=SCHEMA,
            system_prompt="Offer: {{campaign_brief.budget}}",
            user_template="{{campaign_brief.offer}}",
        )
        with pytest.raises(ValidationError) as refused:
            version.clean()
        assert set(refused.value.message_dict) == {"system_prompt"}
        assert "campaign_brief has the fields" in refused.value.message_dict["system_prompt"][0]

    def test_build_messages_renders_system_and_user(self):
        messages = rendering.build_messages(
            system_prompt="Write for {{audience}}.",
            user_template="Use {{campaign_brief}}.",
            variables={"audience": "ops", "campaign_brief": "b1"},
        )
        assert messages == [
            {"role": "system", "content": "Write for ops."},
            {"role": "user", "content": "Use b1."},
        ]

    def test_schema_outline_shows_the_output_shape(self):
        assert rendering.schema_outline(SCHEMA) == {
            "subject_lines": ["string", "string", "string"],
            "cta_text": "string",
        }

    def test_schema_outline_shows_the_first_alternative_of_an_any_of(self):
        schema = {
            "type": "object",
            "properties": {
                "headlines": {
                    "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "object"}]},
                }
            },
        }
        assert rendering.schema_outline(schema) == {"headlines": ["string"]}


class TestContracts:
    def test_valid_output_passes(self):
        outcome = contracts.validate_output(
            json.dumps({"subject_lines": ["a", "b", "c"], "cta_text": "Go"}), SCHEMA
        )
        assert outcome.valid and outcome.errors == []

    def test_malformed_json_is_reported_not_raised(self):
        outcome = contracts.validate_output('{"subject_lines": ["a", "b"', SCHEMA)
        assert not outcome.valid and not outcome.parsed
        assert outcome.errors[0].startswith("Malformed JSON")

    def test_empty_text_is_invalid(self):
        assert contracts.validate_output("   ", SCHEMA).errors == ["The model returned no text."]

    def test_schema_violations_name_the_field(self):
        too_long = "x" * 49
        outcome = contracts.validate_output(
            json.dumps({"subject_lines": [too_long, "b", "c"], "cta_text": "Go", "extra": 1}),
            SCHEMA,
        )
        assert outcome.parsed and not outcome.valid
        assert any(e.startswith("subject_lines/0:") and "too long" in e for e in outcome.errors)
        assert any("extra" in e for e in outcome.errors)

    def test_json_inside_code_fences_or_prose_is_extracted(self):
        document = {"subject_lines": ["a", "b", "c"], "cta_text": "Go"}
        assert contracts.validate_output("```json\n" + json.dumps(document) + "\n```", SCHEMA).valid
        assert contracts.validate_output(
            "Here it is: " + json.dumps(document) + " Thanks!", SCHEMA
        ).valid

    def test_raw_newlines_inside_strings_are_tolerated(self):
        outcome = contracts.validate_output(
            '{"subject_lines": ["a\nb", "c", "d"], "cta_text": "Go"}', SCHEMA
        )
        assert outcome.valid and outcome.content["subject_lines"][0] == "a\nb"

    def test_non_object_output_is_invalid(self):
        outcome = contracts.validate_output("[1, 2]", SCHEMA)
        assert outcome.errors == ["The output must be a JSON object."]

    @pytest.mark.parametrize(
        ("schema", "problem"),
        [
            ([], "must be a JSON object"),
            ({"type": "array"}, '"type": "object"'),
            (
                {"type": "object", "properties": {"a": {"type": "nonsense"}}},
                "Not a valid JSON Schema",
            ),
        ],
    )
    def test_schema_problem_explains_unusable_schemas(self, schema, problem):
        assert problem in contracts.schema_problem(schema)

    def test_schema_problem_accepts_an_object_schema(self):
        assert contracts.schema_problem(SCHEMA) == ""

    def test_an_any_of_violation_names_the_problem_of_the_alternative_that_fits(self):
        text = {"type": "string", "maxLength": 30}
        pinned = {
            "type": "object",
            "properties": {"text": text, "pin": {"enum": [1, 2, 3]}},
            "required": ["text"],
        }
        schema = {
            "type": "object",
            "properties": {"headlines": {"type": "array", "items": {"anyOf": [text, pinned]}}},
        }
        headlines = ["x" * 31, {"text": "y" * 31}, {"text": "ok", "pin": 7}, 5]

        errors = contracts.validate_document({"headlines": headlines}, schema).errors

        assert errors == [
            f"headlines/0: '{'x' * 31}' is too long",
            f"headlines/1/text: '{'y' * 31}' is too long",
            "headlines/2/pin: 7 is not one of [1, 2, 3]",
            "headlines/3: 5 is not valid under any of the given schemas",  # no alternative fits
        ]


class TestRequestShaping:
    def test_llama_cpp_schema_drops_only_length_limits_too_long_for_a_grammar(self):
        from workflows.llm import grammar_safe_schema

        schema = {
            "type": "object",
            "properties": {
                "body": {"type": "string", "maxLength": 1200, "minLength": 1},
                "cta": {"type": "string", "maxLength": 30},
                "flags": {"type": "array", "items": {"type": "string", "maxLength": 900}},
                "rationale": {"type": "string", "maxLength": 300},
            },
        }
        safe = grammar_safe_schema(schema)
        assert safe["properties"]["body"] == {"type": "string", "minLength": 1}
        assert safe["properties"]["cta"]["maxLength"] == 30
        assert "maxLength" not in safe["properties"]["flags"]["items"]
        assert safe["properties"]["rationale"]["maxLength"] == 300
        assert schema["properties"]["body"]["maxLength"] == 1200  # the original is untouched

    def test_openai_form_uses_json_schema_strict_for_closed_schemas(self):
        fmt = response_format(StructuredOutput.JSON_SCHEMA, SCHEMA)
        assert fmt == {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": SCHEMA, "strict": True},
        }

    def test_openai_form_is_not_strict_for_open_schemas(self):
        open_schema = {"type": "object", "properties": {}}
        assert (
            response_format(StructuredOutput.JSON_SCHEMA, open_schema)["json_schema"]["strict"]
            is False
        )

    def test_llama_cpp_form_is_json_object_with_schema(self):
        assert response_format(StructuredOutput.JSON_OBJECT, SCHEMA) == {
            "type": "json_object",
            "schema": SCHEMA,
        }
        long_field = {
            "type": "object",
            "properties": {"body": {"type": "string", "maxLength": 1200}},
        }
        assert response_format(StructuredOutput.JSON_OBJECT, long_field)["schema"]["properties"][
            "body"
        ] == {"type": "string"}

    def test_unknown_mode_is_refused(self):
        with pytest.raises(ValueError, match="Unknown structured output mode"):
            response_format("xml", SCHEMA)

    def test_cache_key_changes_with_any_determining_input(self):
        base = dict(
            prompt_version_id=7,
            model="m",
            messages=[{"role": "user", "content": "hi"}],
            temperature=0.4,
            max_tokens=600,
            schema=SCHEMA,
            structured_output="json_object",
        )
        key = cache_key(**base)
        assert key == cache_key(**base)
        for change in [
            {"prompt_version_id": 8},
            {"model": "m2"},
            {"messages": [{"role": "user", "content": "hi!"}]},
            {"temperature": 0.5},
            {"max_tokens": 601},
            {"structured_output": "json_schema"},
            {"seed": 1},
        ]:
            assert cache_key(**{**base, **change}) != key, change
        assert cache_key(**base, seed=None) == key, (
            "no seed keeps the keys runs already cached under"
        )
        assert cache_key(**base, seed=1) != cache_key(**base, seed=2)

    def test_correction_message_lists_the_errors(self):
        message = correction_message(["cta_text: too long", "subject_lines: too short"])
        assert message["role"] == "user"
        assert "- cta_text: too long" in message["content"]


class TestRedaction:
    def test_known_secret_values_are_removed(self):
        assert redact("key abc123secret used", ["abc123secret"]) == f"key {REDACTED} used"

    @pytest.mark.parametrize(
        "text",
        [
            "Incorrect API key provided: sk-proj-abcdefghijklmnop",
            "Authorization: Bearer abcdefghijklmnopqrstuvwxyz",
            'api_key="hunter2hunter2"',
        ],
    )
    def test_secret_shapes_are_removed(self, text):
        cleaned = redact(text)
        assert REDACTED in cleaned
        assert "abcdefghijklmnop" not in cleaned and "hunter2hunter2" not in cleaned

    def test_safe_url_drops_credentials_and_query(self):
        assert (
            safe_url("https://user:pw@api.example.com:8443/v1?key=x")
            == "https://api.example.com:8443/v1"
        )


def test_output_with_a_lone_surrogate_escape_is_malformed_and_a_pair_is_a_character():
    lone = contracts.validate_output('{"a": "x \\udceb y"}', {"type": "object"})
    pair = contracts.validate_output('{"a": "x \\ud83d\\ude00 y"}', {"type": "object"})

    assert not lone.parsed and "surrogate" in lone.errors[0]
    assert pair.valid and pair.content == {"a": "x \U0001f600 y"}
    assert contracts.storable_text("a\udcebb") == "a\ufffdb"
