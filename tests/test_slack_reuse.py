"""``/ask`` when a past answer already answers it: shown first, with "That answers it" (half a
favour to its author, nobody asked) and "Ask people anyway" (routed as usual)."""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import parse_qsl

from slack_bolt.listener.custom_listener import CustomListener
from sqlalchemy import func, select

from bots.app import create_slack_app
from bots.commands import WORKING
from bots.reuse import ANSWERED, ASK_ANYWAY
from router.routing.reuse import AnswerFinder
from router.storage.schema import Evidence, Favour, Question
from tests.slack_harness import SlackHarness, buttons, harness, text_of
from tests.slack_signing import slash_command_body
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]


def _reusing(h: SlackHarness) -> SlackHarness:
    """The harness with reuse on, at the default floor (the shared fixture turns it off)."""
    h.services.__dict__["answers"] = AnswerFinder(
        indexes=h.services.router.indexes, embedder=h.services.embedder, min_similarity=0.65
    )
    return h


def _questions(h: SlackHarness) -> int:
    with h.bot.transaction() as session:
        return int(session.scalar(select(func.count(Question.id))) or 0)


def test_a_question_already_answered_shows_the_past_answer_with_two_buttons(
    harness: SlackHarness,
) -> None:
    h = _reusing(harness)
    reply = h.slash("Which hop for a hazy IPA?", user="UANA").json()
    shown = text_of(reply)
    assert "may already be answered" in shown and "Citra and Mosaic" in shown and "Bo" in shown
    assert set(buttons(reply)) == {ANSWERED, ASK_ANYWAY}
    assert _questions(h) == 0 and h.fake.calls("chat.postMessage") == []


def test_that_answers_it_credits_the_author_and_asks_nobody(harness: SlackHarness) -> None:
    h = _reusing(harness)
    values = buttons(h.slash("Which hop for a hazy IPA?", user="UANA").json())
    h.click(ANSWERED, values[ANSWERED], user="UANA", channel="C0GENERAL", ts="1.0", hook="yes")
    (done,) = h.fake.wait_for("response_url", 1)
    assert "half a favour" in text_of(done.params) and "<@UBO>" in text_of(done.params)
    with h.bot.transaction() as session:
        favour = session.scalars(select(Favour)).one()
    assert (favour.kind, favour.weight, favour.giver_id, favour.taker_id) == (
        "reuse",
        0.5,
        h.people["UBO"],
        h.people["UANA"],
    )
    assert _questions(h) == 0


def test_ask_people_anyway_routes_the_question_as_usual(harness: SlackHarness) -> None:
    h = _reusing(harness)
    values = buttons(h.slash("Which hop for a hazy IPA?", user="UANA").json())
    h.click(ASK_ANYWAY, values[ASK_ANYWAY], user="UANA", channel="C0GENERAL", ts="1.0", hook="no")
    (receipt,) = h.fake.wait_for("response_url", 1)
    assert "I asked 2 people" in text_of(receipt.params)
    h.fake.wait_for("chat.postMessage", 2)
    assert _questions(h) == 1


def test_a_question_with_no_close_past_answer_is_routed_at_once(harness: SlackHarness) -> None:
    h = _reusing(harness)
    assert h.slash("which yeast for a saison?", user="UANA").json()["text"].startswith("Finding")
    h.fake.wait_for("chat.postMessage", 2)
    assert _questions(h) == 1


def test_the_past_answer_reply_fallback_carries_no_live_mention(harness: SlackHarness) -> None:
    h = _reusing(harness)
    with h.bot.transaction() as session:
        evidence = session.scalars(select(Evidence).where(Evidence.source_key == "seed:UBO")).one()
        evidence.context = "<!channel> Which hop for a hazy IPA?"
    reply = h.slash("Which hop for a hazy IPA?", user="UANA").json()
    assert "may already be answered" in reply["text"]
    assert "<!channel>" not in reply["text"] and "&lt;!channel&gt;" in reply["text"]


def test_a_stored_link_that_would_break_out_of_slack_link_markup_is_not_shown(
    harness: SlackHarness,
) -> None:
    """A link stored by an importer or an older API (``|`` ends Slack's ``<url|label>``) would
    carry a live ``<!channel>`` into the reply; a plain link is still shown."""
    h = _reusing(harness)
    for stored, shown in (
        ("https://a.example|click> <!channel", None),
        ("javascript:alert(1)", None),
        ("https://beer.example/q/1", "<https://beer.example/q/1|open thread>"),
    ):
        with h.bot.transaction() as session:
            evidence = session.scalars(
                select(Evidence).where(Evidence.source_key == "seed:UBO")
            ).one()
            evidence.link = stored
        h.services.router.indexes.invalidate(evidence.network_id)
        reply = h.slash("Which hop for a hazy IPA?", user="UANA").json()
        body = text_of(reply)
        assert "may already be answered" in body
        assert "<!channel>" not in body and "javascript:" not in body
        if shown is not None:
            assert shown in body
        else:
            assert "open thread" not in body


class _LoadingEmbedder:
    """The model still loading: ``encode`` waits until the test says it has loaded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.loaded = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, texts: Any) -> Any:
        self.loaded.wait(20)
        return self.inner.encode(texts)


def test_a_question_is_acknowledged_and_asked_while_the_model_is_still_loading(
    harness: SlackHarness,
) -> None:
    h = _reusing(harness)
    loading = _LoadingEmbedder(h.services.embedder)
    h.services.answers.embedder = loading
    try:
        reply = h.slash("Which hop for a hazy IPA?", user="UANA").json()
        assert reply["text"] == WORKING  # not held until the model is there to look for reuse
        h.fake.wait_for("chat.postMessage", 2)
        assert _questions(h) == 1
    finally:
        loading.loaded.set()


def test_an_ask_whose_past_answer_a_twin_ask_took_is_still_asked(harness: SlackHarness) -> None:
    """Two identical /ask at once: the matcher of each finds the past answer, one reply shows
    it; the other's reply finds nothing left to show and must ask the question as usual."""
    h = _reusing(harness)
    app = create_slack_app(h.services, bot=h.bot)
    (show,) = [
        listener.ack_function
        for listener in app._listeners  # the reply of the past-answer listener
        if isinstance(listener, CustomListener)
        and listener.ack_function.__module__ == "bots.reuse"
        and "show" in listener.ack_function.__qualname__
    ]
    command = dict(
        parse_qsl(
            slash_command_body(
                "Which hop for a hazy IPA?", user_id="UANA", response_url=h.fake.response_url()
            )
        )
    )
    acks: list[dict[str, Any]] = []
    show(lambda **reply: acks.append(reply), command)
    assert acks == [{"text": WORKING, "response_type": "ephemeral"}]
    h.fake.wait_for("chat.postMessage", 2)
    assert _questions(h) == 1
