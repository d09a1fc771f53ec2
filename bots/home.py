"""The App Home tab: your balance and the people on it, asks waiting for you, your open questions,
your interests and budget. Built from the core's reads and published with ``views.publish``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from bots import messages
from bots.clients import SLACK_FAILURES
from bots.messages import clip, context, escape, section
from bots.runtime import SlackBot
from router.ledger import privacy
from router.ledger.favours import PersonLedger
from router.lifecycle import questions
from router.lifecycle.states import LIVE_QUESTION
from router.lifecycle.views import QuestionView
from router.network import preferences
from router.settings import Settings
from router.storage.schema import Person, Question

log = logging.getLogger(__name__)

LISTED = 10


@dataclass(frozen=True)
class HomePage:
    """Everything the Home tab shows, read in one transaction."""

    ledger: PersonLedger
    waiting: tuple[tuple[int, str], ...]  # (ask id, question text)
    mine: tuple[QuestionView, ...]
    standing: preferences.Standing


def read_home(session: Session, *, network_id: int, person_id: int, settings: Settings) -> HomePage:
    person = session.get(Person, person_id)
    assert person is not None
    asks = questions.pending_asks(session, network_id=network_id, person_id=person_id)[:LISTED]
    rows = session.execute(
        select(Question.id, Question.text).where(Question.id.in_([a.question_id for a in asks]))
    ).all()
    texts = {int(question_id): str(text) for question_id, text in rows}
    mine = [
        q
        for q in questions.list_questions(
            session, network_id=network_id, asker_id=person_id, limit=50
        )
        if q.status in LIVE_QUESTION
    ][:LISTED]
    return HomePage(
        ledger=privacy.visible_ledger(session, network_id=network_id, person_id=person_id),
        waiting=tuple((a.id, texts.get(a.question_id, "")) for a in asks),
        mine=tuple(mine),
        standing=preferences.standing(session, person=person, settings=settings),
    )


def home_view(page: HomePage) -> dict[str, Any]:
    """The Home tab as a Block Kit view."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Askaround"}},
        *messages.balance_message(page.ledger)["blocks"],
        {"type": "divider"},
    ]
    if page.waiting:
        lines = "\n".join(f"• {escape(clip(text, 150))}" for _, text in page.waiting)
        blocks.append(section(f"*Waiting for you* (answer from the DMs)\n{lines}"))
    else:
        blocks.append(section("*Waiting for you*\nNothing: no question is waiting for you."))
    if page.mine:
        lines = "\n".join(
            f"• {escape(clip(q.text, 150))}: {len(q.asks)} asked, {len(q.answers)} answered"
            for q in page.mine
        )
        blocks.append(section(f"*Your open questions*\n{lines}"))
    else:
        blocks.append(section("*Your open questions*\nNone. Ask one with `/ask <your question>`."))
    blocks.append({"type": "divider"})
    standing = page.standing
    interests = (
        ", ".join(escape(t) for t in standing.interests) or "none yet (`/ask interests add ...`)"
    )
    state = "getting questions"
    if standing.opted_out:
        state = "opted out (`/ask optin` to come back)"
    elif standing.snoozed_until is not None:
        state = f"snoozed until {messages.when(standing.snoozed_until)}"
    whose = "yours" if standing.own_budget else "the default"
    blocks.append(section(f"*Your interests*: {interests}"))
    blocks.append(
        context(
            f"Budget: {standing.budget} question{'s' * (standing.budget != 1)} a week ({whose}) · "
            f"You are {state} · `/ask help` for everything else"
        )
    )
    return {"type": "home", "blocks": blocks[:100]}


def publish(bot: SlackBot, client: WebClient, *, team_id: str, user_id: str) -> bool:
    """Publish the member's Home tab; False if Slack refused or was unreachable."""
    member = bot.member(team_id=team_id, user_id=user_id)
    with bot.transaction() as session:
        page = read_home(
            session, network_id=member.network_id, person_id=member.person_id, settings=bot.settings
        )
    try:
        client.views_publish(user_id=user_id, view=home_view(page))
    except SLACK_FAILURES as exc:
        log.warning("views.publish for %s failed: %s", user_id, exc)
        return False
    return True
