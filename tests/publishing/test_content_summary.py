"""The weekly summary as a chat message: headline as the header, the flagged creatives with their
numbers, observations, actions and the reviewer's note. Pure: no database."""

from __future__ import annotations

from publishing.adapters.base import Message
from publishing.content import message_parts, slack_message

SUMMARY = {
    "headline": "2 creatives dropped last week",
    "flagged": [
        {
            "ad_id": "gg_ad_1",
            "ad_name": "Engineering KPIs",
            "ctr_last_week": 3.0,
            "ctr_prior_4_weeks": 4.0,
            "change_pct": -25.0,
        },
        {
            "ad_id": "li_ad_1",
            "ad_name": "Boards <carousel> & co",
            "ctr_last_week": 1.5,
            "ctr_prior_4_weeks": 2.0,
            "change_pct": -25.0,
        },
    ],
    "observations": ["Webinar test was too small to judge."],
    "suggested_actions": ["Refresh both creatives before Wednesday. <!channel>"],
}


def test_the_headline_is_the_subject_and_the_body_lists_the_numbers_then_observations_and_actions():
    parts = message_parts(SUMMARY)
    assert parts["subject"] == "2 creatives dropped last week"
    assert parts["text"].splitlines() == [
        "*Flagged creatives* (CTR last week against the prior 4 weeks)",
        "• *Engineering KPIs* (`gg_ad_1`): 3 % vs 4 %, change -25 %",
        "• *Boards &lt;carousel&gt; &amp; co* (`li_ad_1`): 1.5 % vs 2 %, change -25 %",
        "",
        "*Observations*",
        "• Webinar test was too small to judge.",
        "",
        "*Suggested actions*",
        "• Refresh both creatives before Wednesday. &lt;!channel&gt;",
    ]


def test_the_reviewers_note_marks_the_flagged_ads_it_names_and_closes_the_message():
    text = message_parts(SUMMARY, review_note="Needs action: gg_ad_1. Fine otherwise.")["text"]
    lines = text.splitlines()
    assert lines[1].endswith("change -25 % — *needs action (reviewer)*")
    assert not lines[2].endswith("*needs action (reviewer)*")
    assert lines[-1] == "*Reviewer's note:* Needs action: gg_ad_1. Fine otherwise."
    # a longer id that only starts with the ad's id does not mark it
    text = message_parts(SUMMARY, review_note="gg_ad_10 needs action")["text"]
    assert "needs action (reviewer)" not in text


def test_a_summary_without_flagged_creatives_says_so():
    parts = message_parts({**SUMMARY, "flagged": [], "observations": [], "suggested_actions": []})
    assert parts["text"] == "*No creative was flagged this week.*"


def test_an_email_never_carries_the_reviewers_note(valid_email):
    assert (
        message_parts(valid_email, review_note="Internal: ok")["text"] == valid_email["email_body"]
    )


def test_slack_blocks_have_the_headline_as_header():
    parts = message_parts(SUMMARY)
    document = slack_message(Message(subject=parts["subject"], text=parts["text"])).document
    assert document["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "2 creatives dropped last week"},
    }
    assert "Engineering KPIs" in document["blocks"][1]["text"]["text"]
