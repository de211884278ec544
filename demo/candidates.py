"""The demo's candidate prompts v8, v9 and v10, each written against production v7 to show a different outcome."""

from __future__ import annotations

import copy

from workflows.models import PromptVersion, with_history_context

# v8 adds a fixed trust line to the preview text and an urgency close: it names SOC 2 and a guarantee
# that no approved claim states, so the restricted-terms check fails on every output, whatever the model.
V8_TRUST_LINE = "SOC 2 certified, with guaranteed 99.9% uptime. Keep your boards."
V8_SYSTEM_EXTRA = (
    "\n- Reassure the reader about security: say Kestrel Boards is SOC 2 certified and its uptime is guaranteed."
    "\n- Close with urgency: tell the reader to upgrade today before the trial price is gone."
)

# v9 is shorter and stricter: the approved CTA label, once, as the body's last line; a shorter body.
# It lists what not to write ("No other numbers, prices, discounts, ..."), and the 135M model copies
# those words into the copy, so on the full dataset it fails the offer-language check more often than v7.
CTA_LABEL = "Choose a plan"
V9_SYSTEM = (
    "You write one short email for Kestrel Boards to a reader whose free trial is ending.\n"
    "Rules:\n"
    "- State only facts from the approved claims and the campaign brief. No other numbers, prices, discounts, "
    "deadlines, features, customer names, competitor names, or security and compliance terms.\n"
    "- Mention the offer only if the brief has one, in the brief's words.\n"
    "- Write 2 to 4 short sentences, then end the body with the line: Choose a plan\n"
    "- Each subject line has at most 44 characters.\n"
    "- Write no placeholders such as [date] or [name], and greet nobody by name.\n"
    "- Leave risk_flags as an empty list unless the brief asks for something you may not write.\n"
    "- Reply with one JSON object in the requested shape and nothing else."
)
_REPLY_FORMAT = (
    "## Reply format\nOne JSON object like this one; risk_flags stays [] unless a reviewer must check something:\n"
    '{"subject_lines": ["...", "...", "..."], "preview_text": "...", "email_body": "...\\n\\nChoose a plan", '
    '"cta_text": "Choose a plan", "rationale": "...", "risk_flags": []}'
)
_READER_AND_REGISTRIES = [
    "## The reader\n{{audience}}",
    "## What the reader did during the trial (do not repeat their questions)\n{{product_usage_summary}}",
    "## Approved claims (the only product facts you may state)\n{{approved_claims}}",
    "## Brand rules\n{{brand_rules}}",
    "## Legal restrictions\n{{legal_restrictions}}",
]
V9_USER = "\n\n".join(
    ["## Campaign brief\n{{campaign_brief}}", *_READER_AND_REGISTRIES, _REPLY_FORMAT]
)

# v10 is v9 reworked for a small model: it names no forbidden word (the test suite checks this), shows
# only the brief's plan, offer and facts (not its internal name, nor the offer's deadline: v10 writes
# no urgency), and its contract keeps the copy plain text, without brackets or prices.
# Plain text: no brackets, braces or angle brackets (template leftovers such as [name] or {{content}}),
# no currency signs (lifecycle emails quote no prices; the pricing page does), no quotes or backslashes;
# lines only in the body. The grammar keeps them out of the copy.
PLAIN_TEXT_LINES = r"[^\"\\\[\]{}<>$€£]"
PLAIN_TEXT = r"[^\"\\\[\]{}<>$€£\n]"
V10_SYSTEM = (
    "You write one short email for Kestrel Boards to a reader whose free trial is ending.\n"
    "Rules:\n"
    "- Use only the facts under Approved claims and Campaign brief, in their words. Add nothing else.\n"
    "- When the brief's offer is empty, write about the plans only.\n"
    "- Write 2 to 4 short sentences, then end the body with the line: Choose a plan\n"
    "- Each subject line has at most 44 characters.\n"
    "- Start the body with: Hi there,\n"
    "- Leave risk_flags as an empty list unless the brief asks for something you may not write.\n"
    "- Reply with one JSON object in the requested shape and nothing else."
)
V10_USER = "\n\n".join(
    [
        "## Campaign brief\nPlan: {{campaign_brief.plan_name}}\nOffer: {{campaign_brief.offer}}\nFacts: {{campaign_brief.key_facts}}",
        *_READER_AND_REGISTRIES,
        _REPLY_FORMAT,
    ]
)


def _v8_schema(base: dict) -> dict:
    schema = copy.deepcopy(base)
    schema["properties"]["preview_text"] = {
        "type": "string",
        "enum": [V8_TRUST_LINE],
        "description": "The fixed trust line shown after the subject.",
    }
    return schema


def _short_schema(base: dict, *, plain_text: bool) -> dict:
    """v9's and v10's contract: 44-character subjects, the approved CTA, a short body ending with it."""
    schema = copy.deepcopy(base)
    props = schema["properties"]
    props["subject_lines"]["items"]["maxLength"] = 44
    props["cta_text"] = {
        "type": "string",
        "enum": [CTA_LABEL],
        "description": "The approved call to action.",
    }
    body = PLAIN_TEXT_LINES if plain_text else r"[^\"\\]"
    props["email_body"] = {
        "type": "string",
        "minLength": 40,
        "maxLength": 320,
        "pattern": rf"^{body}{{20,300}}\n\n{CTA_LABEL}$",
        "description": f"Plain-text body ending with the line: {CTA_LABEL}",
    }
    if plain_text:
        props["subject_lines"]["items"]["pattern"] = rf"^{PLAIN_TEXT}{{1,44}}$"
        props["preview_text"]["pattern"] = rf"^{PLAIN_TEXT}{{1,90}}$"
    return schema


def demo_candidates(production) -> dict[int, dict]:
    return {
        8: {
            "changelog": "Fixed security trust line in the preview text; urgency close.",
            "system_prompt": production.system_prompt + V8_SYSTEM_EXTRA,
            "user_template": production.user_template,
            "output_schema": _v8_schema(production.output_schema),
        },
        9: {
            "changelog": "Shorter, stricter prompt: approved CTA once as the last line, 320-character body.",
            "max_tokens": 400,
            "system_prompt": V9_SYSTEM,
            "user_template": V9_USER,
            "output_schema": _short_schema(production.output_schema, plain_text=False),
        },
        10: {
            "changelog": "v9 for a small model: names no forbidden word; the brief's plan, offer and facts only; plain text without brackets or prices.",
            "max_tokens": 400,
            "system_prompt": V10_SYSTEM,
            "user_template": V10_USER,
            "output_schema": _short_schema(production.output_schema, plain_text=True),
        },
    }


def load_demo_candidates(*, workflow, users) -> list[str]:
    """Candidates v8, v9 and v10, approved as prompts; only a winning suite may promote one."""
    changes = []
    production = workflow.production_version
    template = workflow.prompt_template
    if production is not None and production.version == 7:
        for number, spec in demo_candidates(production).items():
            if PromptVersion.objects.filter(template=template, version=number).exists():
                continue
            version = PromptVersion(
                template=template,
                version=number,
                author=users["ops"],
                model_name=production.model_name,
                temperature=production.temperature,
                **{"max_tokens": production.max_tokens, **spec},
            )
            version.full_clean()
            with_history_context(
                version, by=users["ops"], reason=f"Demo candidate: {spec['changelog']}"
            )
            version.save()
            version.approve(
                by=users["admin"],
                reason="Demo: reviewed as a prompt; production needs a winning suite",
            )
            changes.append(f"candidate {version.label}")
    return changes
