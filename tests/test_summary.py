"""The weekly summary: a pure function of the ledger and now, rendered, and sent once per week."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from router.errors import InvalidInput
from router.ledger.balances import PairSum, Window, pair_sums_of
from router.ledger.favours import record_favour
from router.ledger.privacy import ANONYMOUS
from router.ledger.schedule import describe_run, enqueue_due_summaries
from router.ledger.snapshot import AskRow, LedgerSnapshot, QuestionRow
from router.ledger.summary import build_weekly_summary, weekly_summary
from router.ledger.summary_text import render_network_summary, render_person_summary
from router.ledger.weeks import iso_week, moment_in_week, week_bounds
from router.network.people import ensure_network, ensure_person
from router.storage.database import Database
from router.storage.schema import Ask, OutboxMessage, Person, Question

MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # start of 2026-W48
NOW = MONDAY + timedelta(days=3, hours=9)  # Thursday
DUE = MONDAY + timedelta(days=7, hours=9)  # W48's summaries are due (UTC people)
ANA, BEN, CY, DEE = 1, 2, 3, 4
NAMES = {ANA: "Ana", BEN: "Ben", CY: "Cy", DEE: "Dee"}


def _snapshot(
    favours: list[tuple[int, int, str, datetime]],
    asks: tuple[AskRow, ...] = (),
    questions: tuple[QuestionRow, ...] = (),
    now: datetime | None = None,
) -> LedgerSnapshot:
    now = now or NOW
    rows = [
        (giver, taker, kind, {"answer": 1.0, "helpful": 1.0, "thanks": 0.25}[kind], at)
        for giver, taker, kind, at in favours
    ]
    week_start, _ = week_bounds(iso_week(now))
    return LedgerSnapshot(
        network_id=7,
        network_name="brewers",
        names=NAMES,
        recipients=frozenset(NAMES),
        pairs_total=tuple(pair_sums_of(rows, Window.as_of(now))),
        pairs_week=tuple(pair_sums_of(rows, Window.as_of(now, since=week_start))),
        asks=asks,
        questions=questions,
    )


LAST_WEEK = MONDAY - timedelta(days=2)
LEDGER = [
    (ANA, BEN, "answer", LAST_WEEK),
    (ANA, BEN, "answer", MONDAY + timedelta(hours=1)),
    (ANA, BEN, "helpful", MONDAY + timedelta(hours=2)),
    (BEN, ANA, "answer", MONDAY + timedelta(hours=3)),
    (CY, ANA, "answer", LAST_WEEK),
    (ANA, DEE, "answer", NOW + timedelta(days=1)),  # after now: not in this summary
]


def test_weekly_summary_lists_favours_owed_both_ways() -> None:
    ana = weekly_summary(_snapshot(LEDGER), now=NOW).person(ANA)
    assert [(o.name, o.net, o.their_count, o.your_count) for o in ana.owed_by] == [
        ("Ben", 2.0, 1, 2)
    ]
    assert [(o.name, o.net, o.their_count, o.your_count) for o in ana.owes] == [("Cy", 1.0, 1, 0)]


def test_this_week_counts_favours_since_monday_and_all_time_counts_all() -> None:
    ana = weekly_summary(_snapshot(LEDGER), now=NOW).person(ANA)
    assert (ana.given_week.count, ana.given_week.weight) == (1, 2.0)
    assert (ana.given_total.count, ana.given_total.weight) == (2, 3.0)
    assert (ana.received_week.count, ana.received_total.count) == (1, 2)
    assert ana.week == "2026-W48"


def test_summary_of_a_past_week_ignores_what_came_after() -> None:
    past_now = LAST_WEEK + timedelta(hours=1)
    past = weekly_summary(_snapshot(LEDGER, now=past_now), now=past_now).person(ANA)
    assert past.week == "2026-W47"
    assert (past.given_total.count, past.received_total.count) == (1, 1)


def test_same_ledger_and_now_give_the_same_summary() -> None:
    snapshot = _snapshot(LEDGER)
    assert weekly_summary(snapshot, now=NOW) == weekly_summary(snapshot, now=NOW)


def test_asks_waiting_and_own_unanswered_questions_are_listed() -> None:
    questions = (
        QuestionRow(10, DEE, "Best yeast for a saison?", MONDAY, None, MONDAY + timedelta(7), None),
        QuestionRow(
            11, DEE, "Closed one", MONDAY, MONDAY + timedelta(1), MONDAY + timedelta(7), None
        ),
        QuestionRow(12, BEN, "Answered one", MONDAY, None, MONDAY + timedelta(7), MONDAY),
    )
    asks = (
        AskRow(1, 10, ANA, MONDAY, None),
        AskRow(2, 10, CY, MONDAY, MONDAY + timedelta(hours=1)),  # CY passed
        AskRow(3, 11, ANA, MONDAY, None),  # its question is closed
    )
    summary = weekly_summary(_snapshot([], asks, questions), now=NOW)
    assert [(w.question_id, w.asker_name) for w in summary.person(ANA).waiting] == [(10, "Dee")]
    assert summary.person(CY).waiting == ()
    assert [(q.question_id, q.people_asked) for q in summary.person(DEE).unanswered] == [(10, 2)]
    assert [q.question_id for q in summary.unanswered] == [10]


def test_network_summary_names_top_givers_and_people_who_only_take() -> None:
    summary = weekly_summary(_snapshot(LEDGER), now=NOW)
    assert [(name, tally.weight) for name, tally in summary.top_givers] == [
        ("Ana", 2.0),
        ("Ben", 1.0),
    ]
    assert summary.only_take == ()
    only_ben = weekly_summary(_snapshot([(ANA, BEN, "answer", MONDAY)]), now=NOW)
    assert only_ben.only_take == ("Ben",)


def test_spread_of_asks_gives_the_most_asks_to_one_person_and_the_gini() -> None:
    question = QuestionRow(1, DEE, "q", MONDAY, None, MONDAY + timedelta(7), None)
    asks = tuple(AskRow(i, 1, ANA if i < 4 else BEN, MONDAY, None) for i in range(1, 5))
    spread = weekly_summary(_snapshot([], asks, (question,)), now=NOW).spread
    assert (spread.asks, spread.people_asked, spread.max_per_person) == (4, 2, 3)
    assert spread.busiest == ("Ana",)
    assert spread.gini == pytest.approx(0.625)  # [0, 0, 1, 3] over four people
    assert spread.gini_among_asked == pytest.approx(0.25)


def test_an_anonymous_asker_is_pooled_unnamed_in_the_answerers_summary_only() -> None:
    open_anonymous = QuestionRow(9, DEE, "Pay?", MONDAY, None, NOW + timedelta(days=1), None, True)
    snapshot = replace(
        _snapshot(LEDGER, asks=(AskRow(1, 9, ANA, MONDAY, None),), questions=(open_anonymous,)),
        hidden_total=(PairSum(CY, ANA, 1.0, 1),),  # Cy's answer to Ana was to an anonymous question
    )
    summary = weekly_summary(snapshot, now=NOW)
    cy, ana = summary.person(CY), summary.person(ANA)
    assert [(o.name, o.net, o.your_count) for o in cy.owed_by] == [(ANONYMOUS, 1.0, 1)]
    assert [(o.name, o.net) for o in ana.owes] == [("Cy", 1.0)]
    assert [w.asker_name for w in ana.waiting] == [ANONYMOUS]
    for text in (render_person_summary(cy, now=NOW), render_person_summary(ana, now=NOW)):
        assert "Dee" not in text
    assert "Ana" not in render_person_summary(cy, now=NOW)


def test_rendered_summary_names_debts_and_what_waits() -> None:
    question = QuestionRow(
        10, DEE, "Best yeast for a saison?", MONDAY, None, NOW + timedelta(7), None
    )
    summary = weekly_summary(
        _snapshot(LEDGER, (AskRow(1, 10, ANA, MONDAY, None),), (question,)), now=NOW
    )
    text = render_person_summary(summary.person(ANA), now=NOW)
    assert "Ben: 2 (Ben answered 1 of yours, you answered 2 of theirs)" in text
    assert "You owe:\n  - Cy: 1" in text
    assert '#10 "Best yeast for a saison?" from Dee, asked 3 days ago' in text
    network = render_network_summary(summary)
    assert "Top givers this week: Ana (1 favour (2)), Ben (1 favour)" in network
    assert "most to one person 1 (Ana)" in network


def test_weeks_are_iso_weeks_and_bad_ones_are_refused() -> None:
    assert iso_week(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert week_bounds("2026-W48") == (MONDAY, MONDAY + timedelta(days=7))
    assert moment_in_week("2026-W47", now=NOW) == MONDAY - timedelta(microseconds=1)
    for bad in ("2026-48", "2025-W53", "2026-W00"):
        with pytest.raises(InvalidInput):
            week_bounds(bad)
    with pytest.raises(InvalidInput, match="not started"):
        moment_in_week("2026-W49", now=NOW)


def _network(database: Database) -> tuple[int, dict[str, int]]:
    with database.transaction() as session:
        network = ensure_network(session, name="brewers", now=MONDAY)
        ids = {
            name: ensure_person(
                session,
                network_id=network.id,
                external_ids=[f"t:{name}"],
                display_name=name,
                now=MONDAY,
            ).id
            for name in ("Ana", "Ben", "Cy", "Dee")
        }
        for n, (giver, taker) in enumerate([("Ana", "Ben"), ("Ben", "Ana"), ("Ana", "Cy")]):
            record_favour(
                session,
                network_id=network.id,
                giver_id=ids[giver],
                taker_id=ids[taker],
                kind="answer",
                source_key=f"f{n}",
                now=MONDAY + timedelta(hours=n),
            )
        return network.id, ids


def test_summary_from_the_database_matches_its_ledger(database: Database) -> None:
    network_id, ids = _network(database)
    with database.transaction() as session:
        question = Question(
            network_id=network_id,
            asker_id=ids["Dee"],
            text="Saison yeast?",
            k=1,
            status="open",
            round=1,
            created_at=MONDAY,
            expires_at=MONDAY + timedelta(days=7),
        )
        session.add(question)
        session.flush()
        session.add(
            Ask(
                network_id=network_id,
                question_id=question.id,
                person_id=ids["Ana"],
                round=1,
                status="pending",
                created_at=MONDAY,
            )
        )
        session.flush()
        summary = build_weekly_summary(session, network_id=network_id, now=NOW)
    ana = summary.person(ids["Ana"])
    assert (ana.given_week.count, ana.received_week.count) == (2, 1)
    assert [o.name for o in ana.owed_by] == ["Cy"]
    assert [w.question for w in ana.waiting] == ["Saison yeast?"]
    assert summary.person(ids["Dee"]).unanswered[0].text == "Saison yeast?"


def test_running_the_summary_job_twice_in_a_week_sends_once(database: Database) -> None:
    network_id, ids = _network(database)
    with database.transaction() as session:
        first = enqueue_due_summaries(session, network_id=network_id, now=DUE)
    with database.transaction() as session:
        second = enqueue_due_summaries(session, network_id=network_id, now=DUE + timedelta(days=1))
        count = session.scalar(select(func.count(OutboxMessage.id)))
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient_id == ids["Ana"])
        ).one()
    assert first.weeks == ("2026-W48",)
    assert sorted(first.enqueued) == sorted([ids["Ana"], ids["Ben"], ids["Cy"]])
    assert second.enqueued == () and sorted(second.already_sent) == sorted(first.enqueued)
    assert count == 3
    assert message.idempotency_key == f"summary:{network_id}:{ids['Ana']}:2026-W48"
    assert "Your Askaround week 2026-W48, Ana" in message.payload["text"]
    with database.transaction() as session:
        next_week = enqueue_due_summaries(
            session, network_id=network_id, now=DUE + timedelta(days=7)
        )
    assert len(next_week.enqueued) == 3 and next_week.weeks == ("2026-W49",)


def test_people_with_nothing_to_report_or_who_opted_out_get_no_summary(
    database: Database,
) -> None:
    network_id, ids = _network(database)
    with database.transaction() as session:
        session.execute(update(Person).where(Person.id == ids["Cy"]).values(opted_out=True))
        run = enqueue_due_summaries(session, network_id=network_id, now=DUE)
    assert sorted(run.enqueued) == sorted([ids["Ana"], ids["Ben"]])
    assert run.nothing_to_say == (ids["Dee"],)


def test_a_missed_monday_is_still_summarised_later_that_week(database: Database) -> None:
    network_id, _ = _network(database)
    with database.transaction() as session:
        early = enqueue_due_summaries(session, network_id=network_id, now=DUE - timedelta(hours=1))
        late = enqueue_due_summaries(session, network_id=network_id, now=DUE + timedelta(days=3))
    assert early.weeks == ("2026-W47",) and early.enqueued == ()  # W48 not due before 09:00
    assert late.weeks == ("2026-W48",) and len(late.enqueued) == 3


def test_each_person_is_due_on_their_own_monday_morning(database: Database) -> None:
    network_id, ids = _network(database)
    with database.transaction() as session:
        session.execute(
            update(Person).where(Person.id == ids["Ana"]).values(timezone="America/New_York")
        )
        at_nine_utc = enqueue_due_summaries(session, network_id=network_id, now=DUE)
        at_nine_there = enqueue_due_summaries(
            session, network_id=network_id, now=DUE + timedelta(hours=5)
        )
    assert ids["Ana"] not in at_nine_utc.enqueued and ids["Ben"] in at_nine_utc.enqueued
    assert at_nine_there.enqueued == (ids["Ana"],)


def test_an_explicit_week_not_over_yet_is_not_sent_and_says_why(database: Database) -> None:
    network_id, _ = _network(database)
    with database.transaction() as session:
        run = enqueue_due_summaries(session, network_id=network_id, now=NOW, week="2026-W48")
    line = describe_run(run, week="2026-W48")
    assert run.enqueued == () and len(run.not_due) == 4
    assert "nothing is due now: week 2026-W48 is not over yet" in line


def test_an_explicit_past_week_is_sent_whatever_the_weekday(database: Database) -> None:
    network_id, _ = _network(database)
    with database.transaction() as session:
        run = enqueue_due_summaries(
            session, network_id=network_id, now=DUE - timedelta(hours=8), week="2026-W48"
        )
        again = enqueue_due_summaries(
            session, network_id=network_id, now=DUE - timedelta(hours=7), week="2026-W48"
        )
    assert len(run.enqueued) == 3 and run.not_due == ()
    line = describe_run(again, week="2026-W48")
    assert "every summary due was already sent" in line and "Monday" not in line


def test_a_malformed_week_is_refused_before_anything_is_read(database: Database) -> None:
    network_id, _ = _network(database)
    with database.transaction() as session, pytest.raises(InvalidInput):
        enqueue_due_summaries(session, network_id=network_id, now=NOW, week="2026-48")
