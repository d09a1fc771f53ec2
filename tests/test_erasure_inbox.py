"""Erasing a Slack member through the HTTP API or the CLI ends what they sent the bot and it has
not carried out yet (an answer, an ``/ask``, one spooled while the database was busy), in the
erasure's transaction: nothing of theirs is carried out later, nor brings them back."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from askaround.api import create_app
from askaround.wiring import Services
from bots import messages
from bots.commands import COMMAND_KIND, carry_out_request
from bots.inbox import SPOOL
from bots.runtime import SlackBot
from bots.views import ANSWER_KIND, carry_out_answer
from router.network.keys import create_key
from router.search.embedding import HashingEmbedder
from router.storage.schema import Answer, InboundRequest, Network, Person, Question
from tests.slack_harness import SPOOLED_OR_NOT, SlackHarness, buttons, harness, sqlite_busy
from tests.slack_world import fake_slack, slack_settings
from tests.test_cli import run_cli

__all__ = ["fake_slack", "harness", "slack_settings"]

ANSWER = "Citra and Mosaic, dry hopped on day 3."
QUESTION = "where do I buy a grain mill?"
SPOOLED = "which yeast for a kveik saison?"


def _bo_sends_an_answer_and_questions(h: SlackHarness, *, spooled: bool) -> None:
    """Bo's answer to Ana's question and his own ``/ask``, acknowledged and left waiting (the
    process handing them on died); with ``spooled``, one more ``/ask`` waits in a spool file."""
    h.slash("which hops for a hazy IPA?", user="UANA")
    dm = next(
        c.params for c in h.fake.wait_for("chat.postMessage", 2) if c.params["channel"] == "DUBO"
    )
    h.settle()
    ts = next(m["ts"] for m in h.fake.messages("DUBO"))
    h.bot.routing.shutdown(wait=True)  # what is acknowledged now waits in the inbox
    h.bot.courier.stop()
    answered = h.submit(
        callback_id=messages.ANSWER_MODAL,
        private_metadata=f"{buttons(dm)[messages.ANSWER]}|DUBO:{ts}",
        values={messages.ANSWER_BLOCK: {messages.ANSWER_INPUT: {"value": ANSWER}}},
        user="UBO",
    )
    assert answered.status_code == 200
    assert h.slash(QUESTION, user="UBO").status_code == 200
    if spooled:
        with sqlite_busy(h):
            assert h.slash(SPOOLED, user="UBO", hook="spooled").status_code == 200
        assert len(list((h.bot.settings.data_dir / SPOOL).glob("*.json"))) == 1
    with h.bot.transaction() as session:
        owed = session.scalars(select(InboundRequest).where(InboundRequest.done_at.is_(None)))
        assert sorted(r.kind for r in owed) == sorted([COMMAND_KIND, ANSWER_KIND])


def _erase_bo_through_the_api(h: SlackHarness) -> None:
    """DELETE /v1/people/{id} from an API process that has no Slack configured at all."""
    settings = h.services.settings.model_copy(
        update={"slack_signing_secret": None, "slack_bot_token": None}
    )
    services = Services(settings=settings, embedder_override=HashingEmbedder())
    services.__dict__["database"] = h.services.database
    with h.bot.transaction() as session:
        network_id = session.scalar(select(Person.network_id).where(Person.id == h.people["UBO"]))
        assert network_id is not None
        key = create_key(session, network_id=network_id, now=h.clock()).plaintext
    with TestClient(create_app(services, clock=h.clock), base_url="http://localhost") as client:
        response = client.delete(
            f"/v1/people/{h.people['UBO']}", headers={"Authorization": f"Bearer {key}"}
        )
    assert response.status_code == 204, response.text


def _erase_bo_through_the_cli(h: SlackHarness) -> None:
    with h.bot.transaction() as session:
        network = session.scalar(
            select(Network.name).join(Person).where(Person.id == h.people["UBO"])
        )
    assert network is not None
    erased = run_cli(h.services.settings, "people", "erase", f"#{h.people['UBO']}", "-n", network)
    assert erased.returncode == 0, erased.stderr


@SPOOLED_OR_NOT
@pytest.mark.parametrize("through", ["api", "cli"])
def test_a_member_erased_outside_slack_has_nothing_waiting_carried_out_or_recreated(
    harness: SlackHarness, through: str, spooled: bool
) -> None:
    h = harness
    _bo_sends_an_answer_and_questions(h, spooled=spooled)
    with h.bot.transaction() as session:
        owed = session.scalars(select(InboundRequest).where(InboundRequest.done_at.is_(None)))
        keys = {r.kind: r.key for r in owed}  # Bo's: Ana's /ask was carried out
        people = session.scalar(select(func.count(Person.id)))
        asked = session.scalar(select(func.count(Question.id)))
    (_erase_bo_through_the_api if through == "api" else _erase_bo_through_the_cli)(h)

    with h.bot.transaction() as session:
        rows = session.scalars(select(InboundRequest)).all()
        assert len(rows) == 3 + spooled  # Ana's /ask (done), Bo's answer and questions
        assert all(r.done_at is not None for r in rows)
        assert not [
            r for r in rows if any(t in str(r.payload) for t in (ANSWER, QUESTION, SPOOLED))
        ]
    assert not list((h.bot.settings.data_dir / SPOOL).glob("*.json"))
    restarted = SlackBot(h.services, clock=h.clock, jobs=[])
    try:
        assert restarted.replay(h.clock.at) == 0
    finally:
        restarted.close()
    # and were a carry-out already under way, it finds the request ended
    assert carry_out_request(h.bot, keys[COMMAND_KIND]) is False
    assert carry_out_answer(h.bot, keys[ANSWER_KIND]) is False
    with h.bot.transaction() as session:
        assert session.scalar(select(func.count(Person.id))) == people
        assert session.scalar(select(func.count(Question.id))) == asked
        assert session.scalar(select(func.count(Answer.id))) == 0
