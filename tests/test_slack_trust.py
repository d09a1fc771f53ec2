"""Issue 9: what made the Slack bot untrustworthy, each reproduced against the fake Slack with
requests signed as Slack signs them."""

from __future__ import annotations

from sqlalchemy import func, select

from router.storage.schema import Question
from tests.slack_harness import SlackHarness, harness, text_of
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]


def _questions(h: SlackHarness) -> int:
    with h.bot.transaction() as session:
        return int(session.scalar(select(func.count(Question.id))) or 0)


def _control_ask(h: SlackHarness, text: str = "which yeast for a saison?") -> None:
    """A valid /ask after the one under test; once its DMs are out, the other's would be too."""
    before = h.fake.count("chat.postMessage")
    assert h.slash(text, user="UANA").status_code == 200
    h.fake.wait_for("chat.postMessage", before + 2)
    h.settle()


# --- 6: a question with no words --------------------------------------------------------------


def test_a_question_mark_alone_is_refused_in_the_ack_and_nobody_is_asked(
    harness: SlackHarness,
) -> None:
    for text in ("?", "\u200b?\u200b", "\u200b \u2060?? \ufeff"):
        response = harness.slash(text, user="UANA")
        assert response.status_code == 200
        assert "no words" in response.text
    _control_ask(harness)
    assert _questions(harness) == 1
    assert harness.fake.count("chat.postMessage") == 2


def test_zero_width_characters_are_removed_from_the_question_people_receive(
    harness: SlackHarness,
) -> None:
    harness.slash("which\u200b hops for a \u2060hazy IPA?\ufeff", user="UANA")
    posted = harness.fake.wait_for("chat.postMessage", 2)
    assert all("which hops for a hazy IPA?" in text_of(call.params) for call in posted)
    assert not any("\u200b" in text_of(call.params) for call in posted)


# --- 7 and 9: the receipt when nobody fits ------------------------------------------------------


def _receipts(h: SlackHarness) -> list[str]:
    return [text_of(call.params) for call in h.fake.calls("response_url")]


def test_when_nobody_fits_the_receipt_says_when_it_looks_again_and_each_reason_once(
    harness: SlackHarness,
) -> None:
    h = harness
    h.slash("which hops for a hazy IPA?", user="UANA")
    h.fake.wait_for("chat.postMessage", 2)
    h.slash("how to proof sourdough overnight?", user="UANA")
    h.fake.wait_for("response_url", 2)
    h.settle()
    h.slash("which hops for a hazy IPA, again?", user="UANA")
    receipt = h.fake.wait_for("response_url", 3)[-1]
    text = text_of(receipt.params)
    assert "Nothing was sent" not in text  # the question stays open: tick asks people later
    assert "look again" in text
    assert "resting: asked just now" in text and "1 hour" not in text
    assert str(receipt.params["text"]).count("resting") == 1
    assert "better matches were not asked: resting: asked just now" in text
