"""``/ask who do I know at Acme?`` in Slack: answered at once from contacts; nobody is asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bots import messages
from bots.contacts import contacts_reply
from router.importers.contacts import import_contacts, parse_linkedin
from router.routing.route import Route
from router.storage.schema import Person, Question
from tests.slack_harness import SlackHarness, harness, text_of
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]

LINKEDIN = Path(__file__).parent / "fixtures" / "contacts" / "Connections.csv"


def test_who_do_i_know_at_acme_lists_people_and_how_you_know_them(harness: SlackHarness) -> None:
    h = harness
    with h.bot.transaction() as session:
        ana = session.get(Person, h.people["UANA"])
        assert ana is not None
        import_contacts(
            session, network_id=ana.network_id, contacts=parse_linkedin(LINKEDIN), now=h.clock.at
        )
    response = h.slash("who do I know at ACME?", user="UANA")
    assert response.status_code == 200
    shown = text_of(response.json())
    assert "Jane Doe" in shown and "Staff Engineer at Acme Inc." in shown
    assert "LinkedIn connection since 2023-03-15" in shown and "Omar Haddad" in shown
    assert "Lin Wei" not in shown
    with h.bot.transaction() as session:
        assert session.scalar(select(func.count(Question.id))) == 0
    assert h.fake.calls("chat.postMessage") == []


def test_a_contacts_question_with_nul_characters_is_answered_without_them(
    harness: SlackHarness,
) -> None:
    response = harness.slash("who do I know at \x00Acme\x00?", user="UANA")
    assert response.status_code == 200
    assert "\\u0000" not in response.text
    assert "known to work at Acme" in text_of(response.json())


def test_text_from_people_shown_back_has_no_nul_or_lone_surrogate() -> None:
    route = Route(question="hops\ud800?", candidates=(), notes=("nobody works at Ac\x00me\udfff",))
    for shown in (contacts_reply(route), messages.route_reply(route, anonymous=False)):
        dumped = json.dumps(shown)  # as Slack receives it
        assert "\\u0000" not in dumped and "\\ud" not in dumped, dumped
        assert "Acme" in dumped


@pytest.mark.parametrize(
    "question",
    [
        "who do I know at Acme\u200b?",
        "\ufeffwho do I know at Acme?",
        "who do I know at \u2060Acme?",
        "who\u200c do I know at \u200dAcme?",
    ],
)
def test_a_contacts_question_with_zero_width_characters_finds_the_people_there(
    harness: SlackHarness, question: str
) -> None:
    h = harness
    with h.bot.transaction() as session:
        ana = session.get(Person, h.people["UANA"])
        assert ana is not None
        import_contacts(
            session, network_id=ana.network_id, contacts=parse_linkedin(LINKEDIN), now=h.clock.at
        )
    shown = text_of(h.slash(question, user="UANA").json())
    assert "Jane Doe" in shown and "people at Acme*" in shown, shown
    assert not any(ch in shown for ch in "\u200b\u200c\u200d\u2060\ufeff"), shown
    with h.bot.transaction() as session:
        assert session.scalar(select(func.count(Question.id))) == 0
    assert h.fake.calls("chat.postMessage") == []
