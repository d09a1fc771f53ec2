"""``/ask forget-me`` in Slack: a confirmation first; only "Forget me" erases, once."""

from __future__ import annotations

from sqlalchemy import select

from bots.forget import CANCEL, CONFIRM, DONE, NOTHING
from router.network.erasure import FORMER_MEMBER
from router.storage.schema import Evidence, ExternalId, Person
from tests.slack_harness import SlackHarness, buttons, harness, text_of
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "harness", "slack_settings"]


def _evidence_of(h: SlackHarness, user: str) -> list[str]:
    with h.bot.transaction() as session:
        return list(
            session.scalars(select(Evidence.text).where(Evidence.person_id == h.people[user]))
        )


def test_forget_me_asks_first_and_cancel_erases_nothing(harness: SlackHarness) -> None:
    h = harness
    reply = h.slash("forget-me", user="UBO").json()
    assert "Forget you?" in text_of(reply)
    assert set(buttons(reply)) == {CONFIRM, CANCEL}
    h.click(CANCEL, "cancel", user="UBO", channel="C0GENERAL", ts="1.0", hook="cancel")
    (answer,) = h.fake.wait_for("response_url", 1)
    assert "Nothing was erased" in text_of(answer.params)
    assert _evidence_of(h, "UBO") != []


def test_forget_me_confirmed_erases_the_member_and_a_second_click_finds_nothing(
    harness: SlackHarness,
) -> None:
    h = harness
    assert "Citra" in " ".join(_evidence_of(h, "UBO"))
    h.click(CONFIRM, "forget", user="UBO", channel="C0GENERAL", ts="1.0", hook="first")
    (done,) = h.fake.wait_for("response_url", 1)
    assert DONE in text_of(done.params)
    with h.bot.transaction() as session:
        person = session.get(Person, h.people["UBO"])
        assert person is not None and person.display_name == FORMER_MEMBER
        ids = session.scalars(select(ExternalId.value).where(ExternalId.person_id == person.id))
        assert list(ids) == []
    assert _evidence_of(h, "UBO") == []
    h.click(CONFIRM, "forget", user="UBO", channel="C0GENERAL", ts="1.0", hook="again")
    again = h.fake.wait_for("response_url", 2)[-1]
    assert NOTHING in text_of(again.params)
