"""The bundled demo network: a small made-up community whose routes make the product obvious."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from router.ledger.favours import record_favour
from router.network import people
from router.progress import Progress, silent
from router.search.backfill import embed_pending
from router.search.embedding import Embedder
from router.storage.schema import Tie

DEMO_FILE = Path(__file__).with_name("network.json")


@dataclass(frozen=True)
class DemoQuestion:
    asker_id: int
    asker_name: str
    text: str


def load_demo(
    session: Session, *, embedder: Embedder, now: datetime, progress: Progress = silent
) -> tuple[int, list[DemoQuestion]]:
    """Load (or refresh, idempotently) the ``demo`` network; returns its id and sample questions."""
    data = json.loads(DEMO_FILE.read_text())
    network = people.ensure_network(session, name=data["name"], now=now)
    ids: dict[str, int] = {}
    for entry in data["people"]:
        person = people.ensure_person(
            session,
            network_id=network.id,
            external_ids=[f"demo:{entry['key']}"],
            display_name=entry["name"],
            timezone=entry["tz"],
            now=now,
        )
        ids[entry["key"]] = person.id
        for interest in entry["interests"]:
            people.add_evidence(
                session,
                network_id=network.id,
                person_id=person.id,
                kind="interest",
                text=interest,
                source="demo",
                source_key=f"demo:interest:{entry['key']}:{interest}",
                created_at=now - timedelta(days=120),
            )
        people.add_evidence(
            session,
            network_id=network.id,
            person_id=person.id,
            kind="profile",
            text=entry["profile"],
            source="demo",
            source_key=f"demo:profile:{entry['key']}",
            created_at=now - timedelta(days=120),
        )
    for n, thread in enumerate(data["threads"]):
        at = now - timedelta(days=thread["days_ago"])
        answerer, asker = ids[thread["answerer"]], ids[thread["asker"]]
        people.add_evidence(
            session,
            network_id=network.id,
            person_id=answerer,
            kind="answer",
            text=thread["a"],
            context=thread["q"],
            source="demo",
            source_key=f"demo:thread:{n}",
            created_at=at,
        )
        record_favour(
            session,
            network_id=network.id,
            giver_id=answerer,
            taker_id=asker,
            kind="history",
            source_key=f"demo:favour:{n}",
            now=at,
        )
    _recount_ties(session, network.id, data["threads"], ids, now)
    embed_pending(session, network_id=network.id, embedder=embedder, progress=progress)
    questions = [
        DemoQuestion(asker_id=ids[q["asker"]], asker_name=_name(data, q["asker"]), text=q["text"])
        for q in data["questions"]
    ]
    return network.id, questions


def _name(data: dict[str, Any], key: str) -> str:
    return str(next(p["name"] for p in data["people"] if p["key"] == key))


def _recount_ties(
    session: Session,
    network_id: int,
    threads: list[dict[str, Any]],
    ids: dict[str, int],
    now: datetime,
) -> None:
    """Ties are derived from the threads; recounting from scratch keeps reloading idempotent."""
    session.execute(delete(Tie).where(Tie.network_id == network_id))
    for thread in threads:
        people.record_tie(
            session,
            network_id=network_id,
            helper_id=ids[str(thread["answerer"])],
            helped_id=ids[str(thread["asker"])],
            at=now,
        )
