"""The answer modal reads before it acks, records the answer in the bot's inbox, and gives it
after the ack: a process stopped or killed right after the ack loses nothing, and the restarted
bot gives the answer exactly once. An answer the core refuses by then (its modal long closed)
goes back to whoever wrote it in one DM saying why; a passing database failure is retried."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from bots import messages
from bots.forget import CONFIRM, DONE
from bots.inbox import MAX_ATTEMPTS, SPOOL
from bots.runtime import SlackBot
from bots.views import ANSWER_KIND, carry_out_answer
from router.lifecycle import questions
from router.storage.schema import Answer, Favour, InboundRequest, Person, Question
from tests.slack_harness import (
    SPOOLED_OR_NOT,
    SlackHarness,
    buttons,
    harness,
    relayed,
    sqlite_busy,
    text_of,
    updated,
)
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]

ANSWER = "Citra and Mosaic, dry hopped on day 3."


def _asked_bo(h: SlackHarness) -> str:
    """Ana asks; the private metadata of the answer form on Bo's ask DM."""
    h.slash("which hops for a hazy IPA?", user="UANA")
    dm = next(
        c.params for c in h.fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "DUBO"
    )
    h.settle()
    ts = next(m["ts"] for m in h.fake.messages("DUBO"))
    return f"{buttons(dm)[messages.ANSWER]}|DUBO:{ts}"


def _submit(h: SlackHarness, metadata: str, *, user: str = "UBO", text: str = ANSWER) -> Any:
    return h.submit(
        callback_id=messages.ANSWER_MODAL,
        private_metadata=metadata,
        values={messages.ANSWER_BLOCK: {messages.ANSWER_INPUT: {"value": text}}},
        user=user,
    )


def _answers(h: SlackHarness) -> int:
    with h.bot.transaction() as session:
        return int(session.scalar(select(func.count(Answer.id))) or 0)


def _owed_answers(h: SlackHarness) -> int:
    with h.bot.transaction() as session:
        return int(
            session.scalar(
                select(func.count(InboundRequest.id)).where(
                    InboundRequest.kind == ANSWER_KIND, InboundRequest.done_at.is_(None)
                )
            )
            or 0
        )


def _relays(h: SlackHarness) -> list[dict[str, Any]]:
    return [
        c.params
        for c in h.fake.calls("chat.postMessage")
        if c.params["channel"] == "DUANA" and messages.CONNECT in buttons(c.params)
    ]


@contextmanager
def _busy(h: SlackHarness, spooled: bool) -> Iterator[None]:
    """While an import holds SQLite's write lock (``spooled``), or as usual."""
    if not spooled:
        yield
        return
    with sqlite_busy(h):
        yield


@SPOOLED_OR_NOT
@pytest.mark.parametrize("death", ["killed", "stopping"])
def test_an_answer_acknowledged_right_before_the_process_dies_is_given_once_after_a_restart(
    harness: SlackHarness, monkeypatch: pytest.MonkeyPatch, death: str, spooled: bool
) -> None:
    h = harness
    metadata = _asked_bo(h)
    if death == "killed":  # SIGKILL right after the ack: the work handed on never runs
        monkeypatch.setattr(h.bot.routing, "submit", lambda *args, **kwargs: None)
    else:  # SIGTERM: the pool refuses new work while the process stops
        h.bot.routing.shutdown(wait=True)
    h.bot.courier.stop()
    with _busy(h, spooled):
        response = _submit(h, metadata)
        assert response.status_code == 200 and response.content in (b"", b"{}")
    # acknowledged, recorded, and not given yet: the process is gone
    assert _answers(h) == 0
    if spooled:
        assert len(list((h.bot.settings.data_dir / SPOOL).glob("*.json"))) == 1
    else:
        assert _owed_answers(h) == 1

    restarted = SlackBot(h.services, clock=h.clock, jobs=[])
    try:
        assert restarted.replay(h.clock.at) == 1
        assert restarted.replay(h.clock.at) == 0  # the next round owes nothing
        relay, _ = relayed(h)
        assert ANSWER in text_of(relay)
        assert "You answered" in updated(h, "DUBO")["DUBO"]
        h.settle()
    finally:
        restarted.close()
    assert _answers(h) == 1 and _owed_answers(h) == 0
    assert len(_relays(h)) == 1
    assert not list((h.bot.settings.data_dir / SPOOL).glob("*.json"))


def _asked_bo_and_held(
    h: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[tuple[Any, ...]]]:
    """Bo asked; the work the ack hands on is held in the returned list, not run."""
    metadata = _asked_bo(h)
    handed: list[tuple[Any, ...]] = []
    monkeypatch.setattr(h.bot.routing, "submit", lambda *args: handed.append(args))
    return metadata, handed


def test_a_submitted_answer_is_given_after_the_ack_by_the_inbox_handler(
    harness: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    metadata, handed = _asked_bo_and_held(h, monkeypatch)
    assert _submit(h, metadata).status_code == 200
    assert _answers(h) == 0 and _owed_answers(h) == 1  # nothing but the record before the ack
    ((handler, bot, key),) = handed
    assert handler(bot, key) is True
    assert handler(bot, key) is False  # once
    relay, _ = relayed(h)
    assert ANSWER in text_of(relay) and _answers(h) == 1


def test_a_second_form_with_other_words_after_the_answer_says_so_and_the_same_words_close(
    harness: SlackHarness,
) -> None:
    h = harness
    metadata = _asked_bo(h)  # two forms opened from the DM before either was sent
    assert "errors" not in (_submit(h, metadata).text or "{}")
    relayed(h)
    assert _answers(h) == 1
    again = _submit(h, metadata)  # a double submit of the same words: nothing to say
    assert again.status_code == 200 and "errors" not in (again.text or "{}")
    other = _submit(h, metadata, text="Actually Galaxy, not Mosaic.")
    assert "already answered" in other.json()["errors"][messages.ANSWER_BLOCK]
    assert _answers(h) == 1 and _owed_answers(h) == 0


@pytest.mark.parametrize(
    ("user", "text", "shown"),
    [
        ("UCY", ANSWER, "only the person asked"),  # someone else's ask
        ("UNEW", ANSWER, "only the person asked"),  # a member never seen: not created
        ("UBO", "Citra\x00", "NUL"),  # what the database cannot store
    ],
)
def test_an_answer_the_core_would_refuse_is_shown_in_the_form_and_nothing_is_written(
    harness: SlackHarness, user: str, text: str, shown: str
) -> None:
    h = harness
    metadata = _asked_bo(h)
    with h.bot.transaction() as session:
        people = session.scalar(select(func.count(Person.id)))
    response = _submit(h, metadata, user=user, text=text)
    assert response.status_code == 200
    assert shown in response.json()["errors"][messages.ANSWER_BLOCK]
    assert _answers(h) == 0 and _owed_answers(h) == 0
    with h.bot.transaction() as session:
        assert session.scalar(select(func.count(Person.id))) == people


def _close(h: SlackHarness) -> None:
    """Ana closes her question from her receipt (Bo's ask DM loses its buttons)."""
    receipt = next(
        c.params for c in h.fake.calls("chat.postMessage") if c.params["channel"] == "DUANA"
    )
    question_id = buttons(receipt)[messages.CLOSE_FROM_RECEIPT]
    h.click(messages.CLOSE_FROM_RECEIPT, question_id, user="UANA", channel="DUANA", ts="1.0")
    h.fake.wait_for("chat.update", where=lambda u: u.params["channel"] == "DUBO")
    h.settle()


def test_an_answer_to_a_closed_question_is_shown_in_the_form_before_the_ack(
    harness: SlackHarness,
) -> None:
    h = harness
    metadata = _asked_bo(h)
    _close(h)
    response = _submit(h, metadata)
    assert "closed" in response.json()["errors"][messages.ANSWER_BLOCK]
    assert _answers(h) == 0 and _owed_answers(h) == 0


REFUSED = "Citra & Mosaic, <!channel> dry hopped on day 3."  # what Slack must not interpret


def _notices(h: SlackHarness, channel: str = "DUBO") -> list[dict[str, Any]]:
    """The DMs telling the answerer their answer could not be given."""
    return [
        c.params
        for c in h.fake.calls("chat.postMessage")
        if c.params["channel"] == channel and "could not be given" in text_of(c.params)
    ]


def _favours(h: SlackHarness) -> int:
    with h.bot.transaction() as session:
        return int(session.scalar(select(func.count(Favour.id))) or 0)


def _recorded_then_closed(h: SlackHarness, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, ...]:
    """Bo's answer acknowledged and recorded, not given yet; then Ana closes her question."""
    metadata, handed = _asked_bo_and_held(h, monkeypatch)
    assert _submit(h, metadata, text=REFUSED).status_code == 200
    assert _owed_answers(h) == 1
    _close(h)
    (carry_out,) = handed
    return carry_out


def _shows_the_refusal(notice: dict[str, Any]) -> None:
    shown = text_of(notice)
    assert "could not be given" in shown and "is closed" in shown  # why, in the core's words
    assert "which hops for a hazy IPA?" in shown  # what it answered
    assert "Citra &amp; Mosaic, &lt;!channel&gt; dry hopped on day 3." in shown  # quoted back
    assert "<!channel>" not in shown


def test_an_answer_refused_after_the_ack_goes_back_to_its_writer_in_one_dm(
    harness: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    handler, bot, key = _recorded_then_closed(h, monkeypatch)
    before, favours = len(h.fake.calls()), _favours(h)
    assert handler(bot, key) is False
    assert handler(bot, key) is False  # a second carry-out (the replay job) finds it done
    h.settle()
    later = [c for c in h.fake.calls()[before:] if c.method == "chat.postMessage"]
    assert [c.params["channel"] for c in later] == ["DUBO"]  # the asker hears nothing
    _shows_the_refusal(later[0].params)
    assert _answers(h) == 0 and _favours(h) == favours  # nothing given, nothing on the ledger
    assert _owed_answers(h) == 0


@pytest.mark.parametrize("refused", ["before the restart", "by the replay"])
def test_an_answer_refused_around_a_restart_is_sent_back_once(
    harness: SlackHarness, monkeypatch: pytest.MonkeyPatch, refused: str
) -> None:
    h = harness
    handler, bot, key = _recorded_then_closed(h, monkeypatch)
    h.bot.courier.stop()  # the process dies with whatever it queued not sent yet
    if refused == "before the restart":
        assert handler(bot, key) is False
    restarted = SlackBot(h.services, clock=h.clock, jobs=[])
    try:
        assert restarted.replay(h.clock.at) == 0  # refused, not given
        assert restarted.replay(h.clock.at) == 0
        restarted.courier.deliver()
        h.settle()
    finally:
        restarted.close()
    (notice,) = _notices(h)
    _shows_the_refusal(notice)
    assert _answers(h) == 0 and _owed_answers(h) == 0
    assert not _notices(h, "DUANA")


def _busy_answers(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """The core's answer_ask meets a busy database ``times`` times, then works."""
    answer_ask = questions.answer_ask
    failures = [
        OperationalError("UPDATE answers", {}, Exception("database is locked"))
        for _ in range(times)
    ]

    def busy(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return answer_ask(*args, **kwargs)

    monkeypatch.setattr(questions, "answer_ask", busy)


@pytest.mark.parametrize("meanwhile", ["nothing", "the question closed"])
def test_a_passing_database_failure_is_retried_without_telling_anyone(
    harness: SlackHarness, monkeypatch: pytest.MonkeyPatch, meanwhile: str
) -> None:
    h = harness
    metadata, handed = _asked_bo_and_held(h, monkeypatch)
    _busy_answers(monkeypatch, 1)
    assert _submit(h, metadata, text=REFUSED).status_code == 200
    ((handler, bot, key),) = handed
    assert handler(bot, key) is False  # the database was busy: kept for the replay job
    h.settle()
    assert not _notices(h) and _owed_answers(h) == 1 and _answers(h) == 0
    if meanwhile == "nothing":
        assert h.bot.replay(h.clock.at) == 1
        relay, _ = relayed(h)
        assert "Citra &amp; Mosaic" in text_of(relay)
        h.settle()
        assert not _notices(h) and _answers(h) == 1
    else:  # now the core refuses it for good: told once, after the final refusal only
        _close(h)
        assert h.bot.replay(h.clock.at) == 0
        h.settle()
        (notice,) = _notices(h)
        _shows_the_refusal(notice)
    assert _owed_answers(h) == 0


def test_an_answer_given_up_after_failing_too_often_goes_back_to_its_writer_once(
    harness: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    metadata, handed = _asked_bo_and_held(h, monkeypatch)
    _busy_answers(monkeypatch, MAX_ATTEMPTS + 1)
    assert _submit(h, metadata, text=REFUSED).status_code == 200
    ((handler, bot, key),) = handed
    assert handler(bot, key) is False
    for _ in range(MAX_ATTEMPTS - 2):
        assert h.bot.replay(h.clock.at) == 0
    h.settle()
    assert not _notices(h) and _owed_answers(h) == 1  # still retried: nobody told
    assert h.bot.replay(h.clock.at) == 0  # the last try: given up
    assert h.bot.replay(h.clock.at) == 0
    h.settle()
    (notice,) = _notices(h)
    shown = text_of(notice)
    assert "went wrong on our side" in shown and "which hops for a hazy IPA?" in shown
    assert "Citra &amp; Mosaic, &lt;!channel&gt; dry hopped on day 3." in shown
    assert _answers(h) == 0 and _owed_answers(h) == 0


def test_what_a_member_sent_before_being_forgotten_is_dropped_and_does_not_bring_them_back(
    harness: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bo submits an answer and asks a question of his own, both acknowledged and waiting, then
    confirms forget-me: neither is carried out later, his text is gone from the inbox, and no
    person is re-created for him (the carry-out used to create a member it did not find)."""
    h = harness
    metadata = _asked_bo(h)
    monkeypatch.setattr(h.bot.routing, "submit", lambda *args, **kwargs: None)
    assert _submit(h, metadata).status_code == 200
    h.slash("where do I buy a grain mill?", user="UBO")
    with h.bot.transaction() as session:
        owed = session.scalars(select(InboundRequest).where(InboundRequest.done_at.is_(None)))
        assert {r.kind for r in owed if r.payload.get("user_id") == "UBO"} == {
            ANSWER_KIND,
            "slack_command",
        }
    h.click(CONFIRM, "forget", user="UBO", channel="C0GENERAL", ts="1.0", hook="forget")
    (done,) = h.fake.wait_for("response_url", 1, where=lambda c: c.path.endswith("/forget"))
    assert DONE in text_of(done.params)
    with h.bot.transaction() as session:
        people = session.scalar(select(func.count(Person.id)))
        questions_before = session.scalar(select(func.count(Question.id)))
        rows = session.scalars(select(InboundRequest)).all()
        assert all(r.done_at is not None for r in rows)
        assert not any(ANSWER in str(r.payload) or "grain mill" in str(r.payload) for r in rows)
    posted = len(h.fake.calls("chat.postMessage"))
    restarted = SlackBot(h.services, clock=h.clock, jobs=[])
    try:
        assert restarted.replay(h.clock.at) == 0
    finally:
        restarted.close()
    # and were the answer's carry-out already running, it finds nobody and gives up quietly
    assert carry_out_answer(h.bot, _answer_key(h)) is False
    assert _answers(h) == 0 and len(h.fake.calls("chat.postMessage")) == posted
    with h.bot.transaction() as session:
        assert session.scalar(select(func.count(Person.id))) == people
        assert session.scalar(select(func.count(Question.id))) == questions_before


def _answer_key(h: SlackHarness) -> str:
    with h.bot.transaction() as session:
        return str(
            session.scalar(select(InboundRequest.key).where(InboundRequest.kind == ANSWER_KIND))
        )
