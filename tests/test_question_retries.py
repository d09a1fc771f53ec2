"""Idempotency keys in the core: the unique index behind the ask lock turns a key stored by a writer
that bypassed the lock into a replay (never an error), and forgetting the asker forgets the key."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from router.errors import Conflict
from router.lifecycle.questions import ask_question
from router.lifecycle.retries import Retry
from router.network.erasure import erase_person
from router.routing.route import Route
from router.routing.router import Router
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Ask, Question
from tests.network_builder import NetworkBuilder

QUESTION = "How should we monitor our Kubernetes cluster, Prometheus alerts or Grafana?"
KEY = "client-42"


@pytest.fixture
def config(settings: Settings) -> Settings:
    return settings.model_copy(update={"index_check_seconds": 0.0, "fairness": False})


@pytest.fixture
def net(database: Database, embedder: HashingEmbedder, now: datetime) -> NetworkBuilder:
    net = NetworkBuilder(database, embedder, now)
    net.person("grace", "How do you monitor Kubernetes clusters?|Prometheus and Grafana alerts")
    net.person("bob", "Alerting on a Kubernetes cluster?|Prometheus alertmanager rules for pods")
    net.person("asker")
    return net


class KeyTakenMeanwhile:
    """The real router; while it routes, another transaction stores a question under ``KEY``
    without taking the ask lock (what a future code path or a manual fix might do)."""

    def __init__(self, inner: Router, net: NetworkBuilder, request_hash: str) -> None:
        self.inner, self.net, self.request_hash = inner, net, request_hash
        self.stored: int | None = None

    def route(self, session: Session, **kwargs: Any) -> Route:
        route = self.inner.route(session, **kwargs)
        with self.net.database.transaction() as other:
            question = Question(
                network_id=self.net.network_id,
                asker_id=self.net.ids["asker"],
                text=QUESTION,
                anonymous=False,
                k=2,
                status="open",
                round=1,
                created_at=self.net.now,
                expires_at=self.net.now + timedelta(days=14),
                idempotency_key=KEY,
                request_hash=self.request_hash,
            )
            other.add(question)
            other.flush()
            self.stored = question.id
        return route


def _ask(database: Database, router: Any, config: Settings, net: NetworkBuilder) -> Any:
    with database.transaction() as session:
        return ask_question(
            session,
            router=router,
            settings=config,
            network_id=net.network_id,
            asker_id=net.ids["asker"],
            text=QUESTION,
            k=2,
            now=net.now,
            idempotency_key=KEY,
        )


@pytest.mark.parametrize("same_request", [True, False], ids=["same-request", "other-request"])
def test_a_key_stored_behind_the_ask_lock_is_replayed_or_refused_never_a_database_error(
    database: Database,
    embedder: HashingEmbedder,
    config: Settings,
    net: NetworkBuilder,
    same_request: bool,
) -> None:
    if database.is_sqlite:
        pytest.skip("SQLite has one writer at a time: nobody can write behind the lock")
    ours = Retry.of(KEY, asker_id=net.ids["asker"], text=QUESTION, k=2, anonymous=False)
    router = KeyTakenMeanwhile(
        Router(database=database, embedder=embedder, settings=config),
        net,
        request_hash=ours.request_hash if same_request else "0" * 64,
    )
    if same_request:
        asked = _ask(database, router, config, net)
        assert asked.replayed and asked.question.id == router.stored
    else:
        with pytest.raises(Conflict, match="idempotency key"):
            _ask(database, router, config, net)
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Question)) == 1
        assert session.scalar(select(func.count()).select_from(Ask)) == 0


def test_forgetting_the_asker_forgets_the_key_and_the_hash_of_their_words(
    database: Database,
    embedder: HashingEmbedder,
    config: Settings,
    net: NetworkBuilder,
) -> None:
    router = Router(database=database, embedder=embedder, settings=config)
    asked = _ask(database, router, config, net)
    with database.transaction() as session:
        stored = session.get(Question, asked.question.id)
        assert stored is not None and (stored.idempotency_key, stored.request_hash) != (None, None)
        erase_person(session, network_id=net.network_id, person_id=net.ids["asker"], now=net.now)
    with database.transaction() as session:
        stored = session.get(Question, asked.question.id)
        assert stored is not None and (stored.idempotency_key, stored.request_hash) == (None, None)
