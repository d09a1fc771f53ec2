"""Share to channel (issue 9), driven through the fake Slack with signed requests: the asker
posts the question in a channel with the answer in its thread, and the answer becomes public
evidence for whoever answered; an anonymous asker stays anonymous."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from bots import messages, sharing
from router.lifecycle.sharing import SHARED_SOURCE, SharedAnswer
from router.storage.schema import Evidence
from tests.slack_harness import SlackHarness, answer_as, buttons, harness, relayed, text_of
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]


def _answered(h: SlackHarness, ask: str) -> tuple[dict[str, Any], str]:
    """Ana asks, Bo answers: the relayed answer in Ana's DM and its ts."""
    h.slash(ask, user="UANA")
    dm = next(
        c.params for c in h.fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "DUBO"
    )
    h.settle()
    answer_as(h, "UBO", dm, "Citra and Mosaic, dry hopped late.")
    relay, ts = relayed(h)
    h.settle()
    return relay, ts


def _share(h: SlackHarness, relay: dict[str, Any], ts: str, *, user: str, channel: str) -> None:
    before = h.fake.count("views.open")
    h.click(messages.SHARE, buttons(relay)[messages.SHARE], user=user, channel="DUANA", ts=ts)
    opened = h.fake.wait_for("views.open", before + 1)[-1].params
    view = opened["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == sharing.SHARE_MODAL
    picker = view["blocks"][1]["element"]
    assert picker["type"] == "conversations_select"
    response = h.submit(
        callback_id=sharing.SHARE_MODAL,
        private_metadata=view["private_metadata"],
        values={sharing.SHARE_BLOCK: {sharing.SHARE_INPUT: {"selected_conversation": channel}}},
        user=user,
    )
    assert response.status_code == 200


def _channel_posts(h: SlackHarness, channel: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        posts = [
            c.params for c in h.fake.calls("chat.postMessage") if c.params["channel"] == channel
        ]
        if len(posts) >= count:
            return posts
        assert time.monotonic() < deadline, f"{channel} never got {count} messages"
        time.sleep(0.02)


def _shared_evidence(h: SlackHarness) -> list[Evidence]:
    with h.bot.transaction() as session:
        rows = list(session.scalars(select(Evidence).where(Evidence.source == SHARED_SOURCE)))
        session.expunge_all()
        return rows


def test_share_to_channel_posts_the_question_with_the_answer_in_its_thread(
    harness: SlackHarness,
) -> None:
    h = harness
    relay, ts = _answered(h, "which hops for a hazy IPA?")
    _share(h, relay, ts, user="UANA", channel="C0BREWING")
    question, answer = _channel_posts(h, "C0BREWING", 2)[:2]
    assert "which hops for a hazy IPA?" in text_of(question) and "Ana" in text_of(question)
    assert not question.get("thread_ts")
    posted_ts = h.fake.messages("C0BREWING")[0]["ts"]
    assert answer["thread_ts"] == posted_ts
    assert "Citra and Mosaic" in text_of(answer) and "Bo" in text_of(answer)
    (row,) = _wait_for_evidence(h)
    assert row.person_id == h.people["UBO"] and row.kind == "answer"
    assert row.context == "which hops for a hazy IPA?"
    assert row.link == f"https://slack.com/archives/C0BREWING/p{posted_ts.replace('.', '')}"


def _wait_for_evidence(h: SlackHarness) -> list[Evidence]:
    deadline = time.monotonic() + 10
    while not (rows := _shared_evidence(h)):
        assert time.monotonic() < deadline, "the shared answer never became evidence"
        time.sleep(0.02)
    return rows


def test_an_anonymous_question_is_shared_without_the_askers_name(harness: SlackHarness) -> None:
    h = harness
    relay, ts = _answered(h, "anon which hops for a hazy IPA?")
    _share(h, relay, ts, user="UANA", channel="C0BREWING")
    question, answer = _channel_posts(h, "C0BREWING", 2)[:2]
    assert "which hops for a hazy IPA?" in text_of(question)
    assert "Ana" not in text_of(question) and "UANA" not in text_of(question)
    assert "Someone asked" in text_of(question)
    assert "Ana" not in text_of(answer)
    assert _wait_for_evidence(h)


def test_only_the_asker_can_share_an_answer(harness: SlackHarness) -> None:
    h = harness
    relay, ts = _answered(h, "which hops for a hazy IPA?")
    opened = h.fake.count("views.open")
    h.click(messages.SHARE, buttons(relay)[messages.SHARE], user="UCY", channel="DUCY", ts=ts)
    told = h.fake.wait_for("response_url", 2)[-1]
    assert told.path.endswith("/act") and "only the asker" in text_of(told.params)
    assert h.fake.count("views.open") == opened
    assert not _shared_evidence(h)


def test_a_shared_question_and_answer_cannot_mention_the_whole_channel() -> None:
    shared = SharedAnswer(
        answer_id=1,
        question="<!channel> which hops?",
        asker="Ana <!here>",
        answerer="Bo <@U1>",
        answer="<!everyone> Citra & Mosaic",
    )
    for posted in (sharing.shared_question(shared), sharing.shared_answer(shared)):
        shown = json.dumps(posted)  # the fallback text (notifications) and the blocks
        assert "<!" not in shown and "<@" not in shown, shown
        assert "&lt;!channel&gt;" in shown or "&lt;!everyone&gt;" in shown
