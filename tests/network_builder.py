"""A tiny fluent builder for test networks: people, evidence and ties in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from router.network import people
from router.search.backfill import embed_pending
from router.search.embedding import Embedder
from router.storage.database import Database


@dataclass
class NetworkBuilder:
    database: Database
    embedder: Embedder
    now: datetime
    name: str = "test"
    network_id: int = 0
    ids: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        with self.database.transaction() as session:
            self.network_id = people.ensure_network(session, name=self.name, now=self.now).id

    def person(
        self, key: str, *answers: str, interests: tuple[str, ...] = (), days_ago: int = 10
    ) -> int:
        """Add a person ``key`` (external id ``t:key``) with past answers and interests."""
        with self.database.transaction() as session:
            person = people.ensure_person(
                session,
                network_id=self.network_id,
                external_ids=[f"t:{key}"],
                display_name=key.title(),
                now=self.now,
            )
            for n, text in enumerate(answers):
                title, _, body = text.partition("|")
                people.add_evidence(
                    session,
                    network_id=self.network_id,
                    person_id=person.id,
                    kind="answer",
                    text=body or title,
                    context=title if body else "",
                    source="test",
                    source_key=f"{key}:answer:{n}",
                    created_at=self.now - timedelta(days=days_ago + n),
                )
            for n, interest in enumerate(interests):
                people.add_evidence(
                    session,
                    network_id=self.network_id,
                    person_id=person.id,
                    kind="interest",
                    text=interest,
                    source="test",
                    source_key=f"{key}:interest:{n}",
                    created_at=self.now - timedelta(days=days_ago),
                )
            embed_pending(session, network_id=self.network_id, embedder=self.embedder)
            self.ids[key] = person.id
            return person.id

    def tie(self, helper: str, helped: str, times: int = 1) -> None:
        with self.database.transaction() as session:
            people.record_tie(
                session,
                network_id=self.network_id,
                helper_id=self.ids[helper],
                helped_id=self.ids[helped],
                at=self.now,
                times=times,
            )
