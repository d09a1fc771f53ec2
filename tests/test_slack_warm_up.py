"""The bot warms every Slack network's index in the background; one network's bad data never
stops the others from warming."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from askaround.settings import AppSettings
from askaround.wiring import Services
from bots.runtime import SlackBot
from router.network.people import add_evidence, ensure_network, ensure_person
from router.search.embedding import HashingEmbedder
from router.storage.database import Database
from router.storage.schema import Evidence
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "slack_settings"]  # fixtures


def test_a_network_whose_index_cannot_load_does_not_stop_the_bot_warming_the_next(
    slack_settings: AppSettings, database: Database, now: datetime
) -> None:
    ids = {}
    with database.transaction() as session:
        for name, team in (("broken", "T0BROKEN"), ("fine", "T0FINE")):  # broken comes first
            network = ensure_network(session, name=name, now=now)
            network.slack_team_id = team
            person = ensure_person(
                session, network_id=network.id, external_ids=["t:1"], display_name="A", now=now
            )
            add_evidence(
                session,
                network_id=network.id,
                person_id=person.id,
                kind="answer",
                text="grafana dashboards",
                source="test",
                created_at=now,
            )
            ids[name] = network.id
        session.execute(  # a vector of 3 bytes: this network's index cannot be built
            update(Evidence)
            .where(Evidence.network_id == ids["broken"])
            .values(embedding=b"\x00\x01\x02", embedding_model="hashing-test")
        )
    services = Services(settings=slack_settings, embedder_override=HashingEmbedder())
    services.__dict__["database"] = database
    bot = SlackBot(services, clock=lambda: now, jobs=[])
    try:
        bot.warm_up().join(timeout=120)
        assert ids["fine"] in services.router.indexes.loaded()
    finally:
        bot.close()
