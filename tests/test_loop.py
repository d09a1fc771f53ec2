"""The whole loop in one go: ask, deliver, answer, helpful, ledger, weekly summary.

Runs on SQLite, and on PostgreSQL when ASKAROUND_TEST_DATABASE_URL is set. The channel fails
some deliveries; nothing may be lost and nothing sent twice.
"""

from __future__ import annotations

import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from router.delivery.outbox import deliver_due, outbox_counts
from router.ledger.favours import pair_balance, person_totals
from router.ledger.schedule import enqueue_due_summaries
from router.ledger.summary import build_weekly_summary
from router.lifecycle.questions import answer_ask, ask_question, mark_helpful, thank_answer
from router.routing.router import Router
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import OutboxMessage
from tests.network_builder import NetworkBuilder
from tests.test_outbox import FlakyChannel


class EveryOtherFails(FlakyChannel):
    """Fails the first try of every second message it sees: a channel having a bad day."""

    def __init__(self) -> None:
        super().__init__()
        self.seen = 0

    def send(self, message):  # type: ignore[no-untyped-def]
        if self.tries[message.idempotency_key] == 0:
            self.seen += 1
            if self.seen % 2 == 0:
                self.failures[message.idempotency_key] = 1
        return super().send(message)


def _drain(database: Database, channel: FlakyChannel, start: datetime) -> datetime:
    """Deliver until nothing is pending, moving the clock past each backoff."""
    clock = start
    for _ in range(20):
        deliver_due(database, channel, now=clock, worker_id="loop", batch=4)
        with database.transaction() as session:
            if outbox_counts(session)["pending"] == 0:
                return clock
        clock += timedelta(minutes=5)
    raise AssertionError("the outbox did not drain")


@pytest.fixture
def net(database: Database, embedder: HashingEmbedder, now: datetime) -> NetworkBuilder:
    net = NetworkBuilder(database, embedder, now)
    net.person("grace", "How do you monitor Kubernetes clusters?|Prometheus and Grafana alerts")
    net.person("bob", "Alerting on a Kubernetes cluster?|Prometheus alertmanager rules for pods")
    net.person("ada", "How to take card payments online?|Stripe checkout with webhooks")
    net.person("asker")
    return net


def test_ask_deliver_answer_helpful_ledger_and_summary_with_a_flaky_channel(
    database: Database, embedder: HashingEmbedder, settings: Settings, net: NetworkBuilder
) -> None:
    config = settings.model_copy(update={"index_check_seconds": 0.0})
    router = Router(database=database, embedder=embedder, settings=config)
    channel = EveryOtherFails()
    asker = net.ids["asker"]

    with database.transaction() as session:
        asked = ask_question(
            session,
            router=router,
            settings=config,
            network_id=net.network_id,
            asker_id=asker,
            text="How should we monitor our Kubernetes cluster?",
            now=net.now,
            k=2,
        )
    clock = _drain(database, channel, net.now)
    ask_messages = [key for key in channel.delivered if key.startswith("ask:")]
    assert sorted(ask_messages) == sorted(f"ask:{a.id}" for a in asked.question.asks)

    first, second = asked.question.asks
    with database.transaction() as session:
        answer = answer_ask(
            session,
            network_id=net.network_id,
            ask_id=first.id,
            person_id=first.person_id,
            text="Prometheus with alertmanager, Grafana on top",
            now=clock,
        )
    clock = _drain(database, channel, clock)
    assert f"answer:{answer.id}" in channel.delivered

    with database.transaction() as session:
        mark_helpful(
            session, network_id=net.network_id, answer_id=answer.id, person_id=asker, now=clock
        )
        thank_answer(
            session, network_id=net.network_id, answer_id=answer.id, person_id=asker, now=clock
        )
    clock = _drain(database, channel, clock)

    with database.transaction() as session:
        given = person_totals(session, network_id=net.network_id, person_id=first.person_id)
        pair = pair_balance(
            session, network_id=net.network_id, person_id=first.person_id, other_id=asker
        )
        summary = build_weekly_summary(session, network_id=net.network_id, now=clock)
    assert (given.given, given.given_count) == (2.25, 1)
    assert pair.debtor_id == asker and pair.net == 2.25
    answerer = summary.person(first.person_id)
    assert [(o.name, o.net) for o in answerer.owed_by] == [("Asker", 2.25)]
    assert [w.question_id for w in summary.person(second.person_id).waiting] == [asked.question.id]
    assert summary.person(asker).unanswered == ()
    assert summary.spread.asks == 2

    monday = (clock - timedelta(days=clock.weekday())).replace(hour=9, minute=0, second=0)
    clock = monday + timedelta(days=7)  # the week's summaries are due (everyone is in UTC)
    for _ in range(2):
        with database.transaction() as session:
            enqueue_due_summaries(session, network_id=net.network_id, now=clock)
    _drain(database, channel, clock)

    with database.transaction() as session:
        stored = session.scalar(select(func.count(OutboxMessage.id)))
        assert outbox_counts(session) == {"pending": 0, "sent": stored, "dead": 0}
    assert len(channel.delivered) == stored  # nothing lost
    assert Counter(channel.delivered).most_common(1)[0][1] == 1  # nothing sent twice
    assert any(count > 1 for count in channel.tries.values())  # and some sends did fail
    summaries = [key for key in channel.delivered if key.startswith("summary:")]
    assert len(summaries) == 3  # asker, answerer, and the person still asked


def test_the_loop_runs_from_the_terminal(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database: Database,
    embedder: HashingEmbedder,
    now: datetime,
    capsys: pytest.CaptureFixture[str],
) -> None:
    net = NetworkBuilder(database, embedder, now, name="terminal")
    net.person("grace", "How do you monitor Kubernetes clusters?|Prometheus and Grafana alerts")
    net.person("asker")
    monkeypatch.setenv("ASKAROUND_DATABASE_URL", database_url)
    monkeypatch.setenv("ASKAROUND_MODEL_NAME", "hashing-test")
    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path))
    from askaround.cli import main
    from askaround.cli.registry import build_cli

    app = build_cli()
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    asked = run("ask", "How to monitor Kubernetes?", "-n", "terminal", "--as", "t:asker", "-k", "1")
    assert "question #1" in asked and "ask #1 -> Grace" in asked
    assert "sent 1," in run("worker", "--once", "--log-file", str(tmp_path / "out.jsonl"))
    run("answer", "1", "Prometheus", "-n", "terminal", "--as", "t:grace")
    assert "answer #1" in run("answer", "1", "Prometheus", "-n", "terminal", "--as", "t:grace")
    changed = runner.invoke(app, ["answer", "1", "Nagios", "-n", "terminal", "--as", "t:grace"])
    assert changed.exit_code != 0 and "already answered" in str(changed.exception or "")
    run("helpful", "1", "-n", "terminal", "--as", "t:asker")
    assert "sent 2," in run("worker", "--once", "--log-file", str(tmp_path / "out.jsonl"))
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 3
    ledger = run("ledger", "-n", "terminal", "--person", "t:asker", "--with", "t:grace")
    assert "Asker owes 2" in ledger
    summary = run("summary", "-n", "terminal", "--person", "t:grace")
    assert "Owed to you:\n  - Asker: 2" in summary
    history = run("history", "1", "-n", "terminal")
    assert "answered Grace" in history and "helpful Asker" in history

    monkeypatch.setattr(
        sys, "argv", ["askaround", "answer", "1", "again?", "-n", "terminal", "--as", "t:asker"]
    )
    with pytest.raises(SystemExit) as refused:
        main()
    assert refused.value.code == 2
    assert capsys.readouterr().err == "error: only the person asked can respond to this ask\n"
