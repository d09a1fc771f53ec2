"""The directory core (``router.network.directory``) called directly, as every edge calls it."""

from __future__ import annotations

from datetime import datetime

import pytest

from router.errors import Conflict, InvalidInput, NotFound
from router.network import directory
from router.network.people import ensure_network
from router.search.backfill import embed_pending
from router.search.embedding import HashingEmbedder
from router.storage.database import Database


def test_creating_a_person_with_a_taken_external_id_is_refused_not_merged(
    database: Database, now: datetime
) -> None:
    with database.transaction() as session:
        network_id = ensure_network(session, name="acme", now=now).id
        ana = directory.create_person(
            session, network_id=network_id, name="Ana", external_ids=["slack:U1"], now=now
        )
        with pytest.raises(Conflict, match=f"person #{ana.id}"):
            directory.create_person(
                session, network_id=network_id, name="Ben", external_ids=["slack:U1"], now=now
            )
        assert [
            p.display_name
            for p in directory.list_people(session, network_id=network_id, after_id=None, limit=10)
        ] == ["Ana"]


def test_an_update_changes_only_the_fields_it_is_given(database: Database, now: datetime) -> None:
    with database.transaction() as session:
        network_id = ensure_network(session, name="acme", now=now).id
        person = directory.create_person(
            session,
            network_id=network_id,
            name="Ana",
            external_ids=["slack:U1", "email:ana@x.org"],
            email="ana@x.org",
            timezone="Europe/Paris",
            now=now,
        )
        directory.update_person(
            session, network_id=network_id, person_id=person.id, external_ids=["slack:U1"]
        )
        directory.update_person(session, network_id=network_id, person_id=person.id, email=None)
        with pytest.raises(InvalidInput, match="time zone"):
            directory.update_person(
                session, network_id=network_id, person_id=person.id, timezone="Mars/Olympus"
            )
        assert [row.value for row in person.external_ids] == ["slack:U1"]
        assert (person.display_name, person.email, person.timezone) == ("Ana", None, "Europe/Paris")


def test_new_evidence_text_is_embedded_again(
    database: Database, now: datetime, embedder: HashingEmbedder
) -> None:
    with database.transaction() as session:
        network_id = ensure_network(session, name="acme", now=now).id
        person = directory.create_person(
            session, network_id=network_id, name="Ana", external_ids=["slack:U1"], now=now
        )
        evidence = directory.create_evidence(
            session,
            network_id=network_id,
            person_id=person.id,
            kind="answer",
            text="grafana dashboards",
            source="test",
            created_at=now,
            now=now,
        )
        embed_pending(session, network_id=network_id, embedder=embedder)
        session.refresh(evidence)
        assert evidence.embedding is not None
        directory.update_evidence(
            session, network_id=network_id, evidence_id=evidence.id, link="https://x.org/1", now=now
        )
        assert evidence.embedding is not None
        directory.update_evidence(
            session,
            network_id=network_id,
            evidence_id=evidence.id,
            text="prometheus alerts",
            now=now,
        )
        assert evidence.embedding is None and evidence.embedding_model is None
        assert directory.count_evidence(session, network_id=network_id) == 1


def test_another_networks_people_and_evidence_are_not_found(
    database: Database, now: datetime
) -> None:
    with database.transaction() as session:
        acme = ensure_network(session, name="acme", now=now).id
        other = ensure_network(session, name="other", now=now).id
        person = directory.create_person(
            session, network_id=acme, name="Ana", external_ids=["slack:U1"], now=now
        )
        evidence = directory.create_evidence(
            session,
            network_id=acme,
            person_id=person.id,
            kind="interest",
            text="kubernetes",
            source="test",
            created_at=now,
            now=now,
        )
        with pytest.raises(NotFound):
            directory.get_evidence(session, network_id=other, evidence_id=evidence.id)
        with pytest.raises(NotFound):
            directory.delete_person(session, network_id=other, person_id=person.id)
        directory.delete_person(session, network_id=acme, person_id=person.id)
        assert directory.count_evidence(session, network_id=acme) == 0
