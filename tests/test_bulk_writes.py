"""Bulk writes store exactly what the one-row calls store, log every evidence row in the change
log, check every row before writing any, and make a large import idempotent."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.errors import InvalidInput
from router.importers.site import WRITE_CHUNK
from router.importers.stackexchange import import_stackexchange
from router.network import people
from router.network.bulk import NewEvidence, add_evidence_rows, ensure_people, record_ties
from router.search.embedding import HashingEmbedder
from router.search.indexing import IndexCache
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence, EvidenceChange, ExternalId, Person, Tie

Round = tuple[dict[str, str], list[tuple[str, str, str]], list[tuple[str, str, int]]]


def _round(rng: random.Random, *, people_count: int, rows: int, tag: str) -> Round:
    """Names by external id, evidence (who, key, text) and ties (helper, helped, day)."""
    names = {f"t:{n}": f"Person {n}{tag}" for n in range(people_count)}
    ids = list(names)
    evidence = [(rng.choice(ids), f"k:{rng.randrange(rows)}", f"answer {n}") for n in range(rows)]
    ties = [(rng.choice(ids), rng.choice(ids), rng.randrange(60)) for _ in range(rows)]
    return names, evidence, ties


def _write_one_by_one(session: Session, network_id: int, now: datetime, data: Round) -> None:
    names, evidence, ties = data
    person_of = {
        value: people.ensure_person(
            session, network_id=network_id, external_ids=[value], display_name=name, now=now
        ).id
        for value, name in names.items()
    }
    for who, key, text in evidence:
        people.add_evidence(
            session,
            network_id=network_id,
            person_id=person_of[who],
            kind="answer",
            text=text,
            source="test",
            source_key=key,
            created_at=now,
        )
    for helper, helped, day in ties:
        people.record_tie(
            session,
            network_id=network_id,
            helper_id=person_of[helper],
            helped_id=person_of[helped],
            at=now - timedelta(days=day),
        )


def _write_in_bulk(session: Session, network_id: int, now: datetime, data: Round) -> None:
    names, evidence, ties = data
    person_of = ensure_people(session, network_id=network_id, names=names, now=now)
    rows = [
        NewEvidence(
            person_id=person_of[who],
            kind="answer",
            text=text,
            source="test",
            source_key=key,
            created_at=now,
        )
        for who, key, text in evidence
    ]
    add_evidence_rows(session, network_id=network_id, rows=rows)
    record_ties(
        session,
        network_id=network_id,
        helped=[(person_of[a], person_of[b], now - timedelta(days=day)) for a, b, day in ties],
    )


def _snapshot(session: Session, network_id: int) -> dict[str, Any]:
    """The network's content, with people named by external id so ids do not matter."""
    name_of = dict(
        session.execute(
            select(ExternalId.person_id, ExternalId.value).where(
                ExternalId.network_id == network_id
            )
        ).all()
    )
    return {
        "people": sorted(
            (name_of[p.id], p.display_name, p.timezone, p.opted_out)
            for p in session.scalars(select(Person).where(Person.network_id == network_id))
        ),
        "evidence": sorted(
            (name_of[e.person_id], e.source_key, e.text, e.kind, e.source, e.weight)
            for e in session.scalars(select(Evidence).where(Evidence.network_id == network_id))
        ),
        "ties": sorted(
            (name_of[t.helper_id], name_of[t.helped_id], t.count, t.last_at)
            for t in session.scalars(select(Tie).where(Tie.network_id == network_id))
        ),
    }


def test_bulk_writes_store_what_the_one_row_calls_store(database: Database, now: datetime) -> None:
    rng = random.Random(3)
    first = _round(rng, people_count=40, rows=300, tag="")
    second = _round(rng, people_count=60, rows=400, tag=" (renamed)")  # overlaps the first
    with database.transaction() as session:
        one = people.ensure_network(session, name="one by one", now=now).id
        bulk = people.ensure_network(session, name="bulk", now=now).id
    for data in (first, second):
        with database.transaction() as session:
            _write_one_by_one(session, one, now, data)
        with database.transaction() as session:
            _write_in_bulk(session, bulk, now, data)
    with database.transaction() as session:
        expected, got = _snapshot(session, one), _snapshot(session, bulk)
    assert len(got["people"]) == 60 and len(got["ties"]) > 100
    assert got == expected


def test_bulk_evidence_is_checked_whole_before_any_row_is_written(
    database: Database, now: datetime
) -> None:
    with database.transaction() as session:
        network_id = people.ensure_network(session, name="n", now=now).id
        person_of = ensure_people(session, network_id=network_id, names={"t:a": "A"}, now=now)
        rows = [
            NewEvidence(
                person_id=person_of["t:a"], kind="answer", text=text, source="t", created_at=now
            )
            for text in ("fine", "also fine", "a NUL \x00 here")
        ]
        with pytest.raises(InvalidInput, match="NUL"):
            add_evidence_rows(session, network_id=network_id, rows=rows)
        assert session.scalar(select(func.count(Evidence.id))) == 0


def _write_site(folder: Path, *, users: int, questions: int, answers: int) -> set[tuple[int, int]]:
    """A made-up dump; returns the (answerer, asker) pairs of answers to someone else."""
    rng = random.Random(11)
    folder.mkdir()
    start = datetime(2020, 1, 1)
    rows = []
    asker = {}
    for q in range(1, questions + 1):
        asker[q] = rng.randrange(1, users + 1)
        rows.append(
            f'<row Id="{q}" PostTypeId="1" CreationDate="{start + timedelta(hours=q):%Y-%m-%dT%H:%M:%S}" '
            f'OwnerUserId="{asker[q]}" Title="Question {q}" Tags="&lt;beer&gt;" '
            f"Body={quoteattr(f'<p>question {q}</p>')} />"
        )
    pairs = set()
    for a in range(questions + 1, questions + answers + 1):
        parent, owner = rng.randrange(1, questions + 1), rng.randrange(1, users + 1)
        if owner != asker[parent]:
            pairs.add((owner, asker[parent]))
        rows.append(
            f'<row Id="{a}" PostTypeId="2" ParentId="{parent}" '
            f'CreationDate="{start + timedelta(hours=questions + a):%Y-%m-%dT%H:%M:%S}" '
            f'OwnerUserId="{owner}" Body={quoteattr(f"<p>answer {a} about hops</p>")} />'
        )
    (folder / "Posts.xml").write_text("<posts>\n" + "\n".join(rows) + "\n</posts>\n")
    user_rows = [
        f'<row Id="{u}" CreationDate="2019-01-01T00:00:00" DisplayName="User {u}" AboutMe="" />'
        for u in range(1, users + 1)
    ]
    (folder / "Users.xml").write_text("<users>\n" + "\n".join(user_rows) + "\n</users>\n")
    return pairs


def test_a_large_import_logs_every_row_indexes_it_and_imports_twice_as_no_change(
    database: Database, now: datetime, tmp_path: Path, settings: Settings
) -> None:
    answers = WRITE_CHUNK + 500  # more than one bulk insert
    pairs = _write_site(tmp_path / "site", users=300, questions=400, answers=answers)

    def run() -> Any:
        with database.transaction() as session:
            network_id = people.ensure_network(session, name="site", now=now).id
            report = import_stackexchange(
                session, network_id=network_id, folder=tmp_path / "site", now=now
            )
        return network_id, report

    network_id, first = run()
    with database.transaction() as session:
        snapshot = _snapshot(session, network_id)
        logged = session.scalar(select(func.count(EvidenceChange.seq)))
        cache = IndexCache(database=database, embedder=HashingEmbedder(), settings=settings)
        index = cache.get(session, network_id=network_id)
    assert first.evidence_created == answers and logged == answers
    assert len(index.evidence) == answers
    assert {(helper, helped) for helper, helped, *_ in snapshot["ties"]} == {
        (f"se:{helper}", f"se:{helped}") for helper, helped in pairs
    }
    _, second = run()
    with database.transaction() as session:
        assert _snapshot(session, network_id) == snapshot
        assert session.scalar(select(func.count(EvidenceChange.seq))) == logged
    assert (second.evidence_created, second.people_created, second.ties_added) == (0, 0, 0)
    assert second.evidence_seen == answers
