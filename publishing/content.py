"""The copy a destination shows, from a variant's output, and Slack's limits. Pure: no Django, no ORM."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Slack's documented limits: 50 blocks a message, 3,000 characters in a section's text,
# 150 in a header's; the top-level text is the notification fallback. Slack also refuses
# blocks whose texts add up to about 13,000 characters (msg_blocks_too_long, reported, not
# documented): the blocks' text stays under SLACK_TOTAL_CHARS.
SLACK_MAX_BLOCKS = 50
SLACK_TOTAL_CHARS = 12000
SLACK_SECTION_CHARS = 3000
SLACK_HEADER_CHARS = 150
SLACK_FALLBACK_CHARS = 3000
CUT = "…"


def message_parts(content: Any, *, review_note: str = "") -> dict[str, str]:
    """Subject, body, preview and call to action of an output (the email schema's field names).

    A summary (``headline`` and a ``flagged`` list, the weekly ad performance review) reads as
    its headline over its flagged creatives with their numbers, observations and suggested
    actions, with the reviewer's note; an email never carries the note.
    """
    if not isinstance(content, dict):
        return {"subject": "", "text": "" if content is None else str(content)}
    if isinstance(content.get("headline"), str) and isinstance(content.get("flagged"), list):
        return summary_parts(content, review_note=review_note)
    subject = content.get("subject") or content.get("subject_line") or ""
    lines = content.get("subject_lines")
    if not subject and isinstance(lines, list) and lines:
        subject = lines[0]
    text = content.get("email_body") or content.get("body") or content.get("text") or ""
    if not text:
        text = "\n\n".join(
            f"{key}: {value}" for key, value in content.items() if isinstance(value, str) and value
        )
    return {
        "subject": str(subject),
        "text": str(text),
        "preview": str(content.get("preview_text") or ""),
        "call_to_action": str(content.get("cta_text") or ""),
    }


def _mrkdwn(value: Any) -> str:
    """Model text made inert for Slack: &, < and > escaped (no links, mentions or @channel)."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").strip()


def _number(value: Any, unit: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "?"
    return f"{value:g}{unit}"


def _named_in(note: str, *phrases: str) -> bool:
    folded = note.casefold()
    for phrase in phrases:
        phrase = phrase.strip().casefold()
        start = folded.find(phrase) if phrase else -1
        while start >= 0:
            before = folded[start - 1] if start else " "
            after = folded[start + len(phrase)] if start + len(phrase) < len(folded) else " "
            if not (before.isalnum() or before in "_-") and not (after.isalnum() or after in "_-"):
                return True
            start = folded.find(phrase, start + 1)
    return False


def summary_parts(content: dict, *, review_note: str = "") -> dict[str, str]:
    """The weekly ad performance summary as a chat message: its headline as the subject; the
    flagged creatives (CTR last week against the prior 4 weeks, the change), marked where the
    reviewer's note names them; the observations, the suggested actions and the note."""
    note = (review_note or "").strip()
    lines = []
    flagged = [item for item in content.get("flagged") or [] if isinstance(item, dict)]
    if flagged:
        lines.append("*Flagged creatives* (CTR last week against the prior 4 weeks)")
        for item in flagged:
            ad_id, ad_name = str(item.get("ad_id") or ""), str(item.get("ad_name") or "")
            marked = note and _named_in(note, ad_id, ad_name)
            lines.append(
                f"• *{_mrkdwn(ad_name) or _mrkdwn(ad_id)}* (`{_mrkdwn(ad_id)}`): "
                f"{_number(item.get('ctr_last_week'), ' %')} vs "
                f"{_number(item.get('ctr_prior_4_weeks'), ' %')}, "
                f"change {_number(item.get('change_pct'), ' %')}"
                + (" — *needs action (reviewer)*" if marked else "")
            )
    else:
        lines.append("*No creative was flagged this week.*")
    for key, title in (
        ("observations", "Observations"),
        ("suggested_actions", "Suggested actions"),
    ):
        items = [i for i in content.get(key) or [] if isinstance(i, str) and i.strip()]
        if items:
            lines.append("")
            lines.append(f"*{title}*")
            lines += [f"• {_mrkdwn(i)}" for i in items]
    if note:
        lines += ["", f"*Reviewer's note:* {_mrkdwn(note)}"]
    return {
        "subject": str(content.get("headline") or "").strip(),
        "text": "\n".join(lines),
        "preview": "",
        "call_to_action": "",
    }


def _cut(text: str, limit: int) -> tuple[str, bool]:
    return (text, False) if len(text) <= limit else (text[: limit - len(CUT)] + CUT, True)


def _pieces(text: str, limit: int) -> list[str]:
    """The text in pieces of at most ``limit`` characters, broken at paragraph or line ends where possible."""
    pieces = []
    while len(text) > limit:
        cut = max(
            text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit), text.rfind(" ", 0, limit)
        )
        cut = cut if cut > limit // 2 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces


@dataclass(frozen=True)
class SlackMessage:
    document: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)


def slack_message(message) -> SlackMessage:
    """``{"text", "blocks"}`` within Slack's limits; ``detail`` says what had to be cut."""
    cut_notes = []
    blocks: list[dict[str, Any]] = []
    if message.subject:
        header, was_cut = _cut(message.subject, SLACK_HEADER_CHARS)
        if was_cut:
            cut_notes.append(f"the header was cut to {SLACK_HEADER_CHARS} characters")
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": header}})
    body = message.text
    if message.call_to_action:
        body = f"{body}\n\n*{message.call_to_action}*"
    rest = "(The rest did not fit in one Slack message.)"
    budget = SLACK_TOTAL_CHARS - sum(len(b["text"]["text"]) for b in blocks) - len(rest)
    pieces = _pieces(body, SLACK_SECTION_CHARS)
    for number, piece in enumerate(pieces):
        if len(blocks) == SLACK_MAX_BLOCKS - 1 or len(piece) > budget:
            left = len(pieces) - number
            cut_notes.append(
                f"{left} section(s) beyond Slack's limits (50 blocks, about 12,000 characters) were left out"
            )
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": rest}})
            break
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": piece}})
        budget -= len(piece)
    fallback, _ = _cut(message.subject or message.text, SLACK_FALLBACK_CHARS)
    detail = {"cut": cut_notes} if cut_notes else {}
    return SlackMessage(document={"text": fallback, "blocks": blocks}, detail=detail)
