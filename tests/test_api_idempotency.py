"""``POST /v1/questions`` with an ``Idempotency-Key``: a retry returns the question already asked
and asks nobody again, another body under the key is a 409, concurrent repeats make one question."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from router.settings import Settings
from router.storage.schema import Ask, OutboxMessage, Question, QuestionEvent
from tests.api_client import ApiHarness, Tenant
from tests.live_server import LiveServer

QUESTION = {"question": "Why is my Grafana alert not firing?", "asker": "t:asker", "k": 2}
CONCURRENT = 10


@dataclass
class Office:
    api: ApiHarness
    tenant: Tenant

    def ask(self, body: dict[str, Any], key: str | None = None, **headers: str) -> httpx.Response:
        sent = {**self.tenant.headers, **headers}
        if key is not None:
            sent["Idempotency-Key"] = key
        return self.api.client.post("/v1/questions", json=body, headers=sent)

    def counts(self) -> dict[str, int]:
        """How many rows asking wrote: questions, asks, events and outbox messages."""
        with self.api.services.database.transaction() as session:
            return {
                model.__tablename__: int(session.scalar(select(func.count()).select_from(model)))
                for model in (Question, Ask, QuestionEvent, OutboxMessage)
            }


def _staff(api: ApiHarness, tenant: Tenant) -> None:
    people = {
        "asker": "Curious about everything",
        "ada": "Grafana dashboards and Prometheus alert rules",
        "bob": "Grafana Loki log queries and alerting",
        "cy": "Stripe webhooks and payments",
    }
    for name, text in people.items():
        person = api.client.post(
            "/v1/people",
            json={"name": name.title(), "external_ids": [f"t:{name}"]},
            headers=tenant.headers,
        ).json()
        api.client.post(
            f"/v1/people/{person['id']}/evidence",
            json={"kind": "answer", "text": text},
            headers=tenant.headers,
        )


@pytest.fixture
def office(settings: Settings, now: datetime) -> Iterator[Office]:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    _staff(api, tenant)
    yield Office(api=api, tenant=tenant)
    api.close()


def test_a_retry_with_the_same_key_returns_the_same_question_and_asks_nobody_again(
    office: Office,
) -> None:
    first = office.ask(QUESTION, key="retry-1")
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    written = office.counts()
    assert written["asks"] == written["outbox"] == 2

    again = office.ask(QUESTION, key="retry-1")
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()  # the question and the route that picked its people
    assert office.counts() == written


def test_the_same_key_with_a_different_body_is_a_conflict_and_writes_nothing(
    office: Office,
) -> None:
    first = office.ask(QUESTION, key="retry-2")
    assert first.status_code == 201, first.text
    written = office.counts()
    for changed in (
        {**QUESTION, "question": "Why is my Loki query slow?"},
        {**QUESTION, "k": 3},
        {**QUESTION, "anonymous": True},
        {**QUESTION, "asker": "t:cy"},
        {key: value for key, value in QUESTION.items() if key != "k"},  # k left to the default
    ):
        refused = office.ask(changed, key="retry-2")
        assert refused.status_code == 409, (changed, refused.text)
        assert refused.json()["error"] == "conflict"
        assert "idempotency key" in refused.json()["detail"]
        assert f"#{first.json()['question']['id']}" in refused.json()["detail"]
        assert "Idempotent-Replayed" not in refused.headers
    assert office.counts() == written


@pytest.mark.parametrize(
    "key",
    ["", "k" * 201, "caf\u00e9", "tab\there", "bell\x07"],
    ids=["empty", "too-long", "not-ascii", "tab", "control"],
)
def test_a_malformed_key_is_refused_with_a_reason_and_nothing_is_written(
    office: Office, key: str
) -> None:
    before = office.counts()
    headers = {**office.tenant.headers, "Idempotency-Key": key}
    raw = [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
    refused = office.api.client.post("/v1/questions", json=QUESTION, headers=raw)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "invalid_input"
    assert "idempotency key" in refused.json()["detail"]
    assert office.counts() == before


def test_keys_of_200_printable_characters_are_accepted(office: Office) -> None:
    key = ("".join(map(chr, range(32, 127))) * 3)[1:201]  # every printable one, space too
    assert len(key) == 200 and key == key.strip()
    first = office.ask(QUESTION, key=key)
    assert first.status_code == 201, first.text
    assert office.ask(QUESTION, key=key).headers["Idempotent-Replayed"] == "true"


def test_without_a_key_every_request_asks_a_new_question(office: Office) -> None:
    ids = []
    for _ in range(2):
        response = office.ask(QUESTION)
        assert response.status_code == 201, response.text
        assert "Idempotent-Replayed" not in response.headers
        ids.append(response.json()["question"]["id"])
    assert len(set(ids)) == 2
    assert office.counts()["questions"] == 2


def test_a_key_belongs_to_its_network_so_another_network_may_use_it_too(
    office: Office,
) -> None:
    other = office.api.network("globex")
    _staff(office.api, other)
    mine = office.ask(QUESTION, key="shared-key")
    theirs = office.api.client.post(
        "/v1/questions", json=QUESTION, headers={**other.headers, "Idempotency-Key": "shared-key"}
    )
    again = office.ask(QUESTION, key="shared-key")
    assert (mine.status_code, theirs.status_code, again.status_code) == (201, 201, 201)
    assert "Idempotent-Replayed" not in theirs.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert mine.json()["question"]["id"] == again.json()["question"]["id"]
    assert mine.json()["question"]["id"] != theirs.json()["question"]["id"]


def test_concurrent_requests_with_one_key_create_one_question_and_replay_it_to_the_rest(
    office: Office, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = office.api.services.router
    real_route, routed = router.route, []

    def route(*args: Any, **kwargs: Any) -> Any:
        routed.append(kwargs["question"])
        return real_route(*args, **kwargs)

    monkeypatch.setattr(router, "route", route)  # counts; the real router still routes
    start = threading.Barrier(CONCURRENT)
    with (
        LiveServer.start(office.api.client.app) as server,
        httpx.Client(base_url=server.url, headers=office.tenant.headers, timeout=60) as client,
        ThreadPoolExecutor(max_workers=CONCURRENT) as pool,
    ):

        def ask(_: int) -> httpx.Response:
            start.wait(timeout=30)
            return client.post(
                "/v1/questions", json=QUESTION, headers={"Idempotency-Key": "at-once"}
            )

        responses = list(pool.map(ask, range(CONCURRENT)))
    assert [r.status_code for r in responses] == [201] * CONCURRENT, [r.text for r in responses]
    replayed = [r.headers.get("Idempotent-Replayed") for r in responses]
    assert sorted(replayed, key=str) == [None] + ["true"] * (CONCURRENT - 1)
    assert len({r.json()["question"]["id"] for r in responses}) == 1
    counts = office.counts()
    assert (counts["questions"], counts["asks"], counts["outbox"]) == (1, 2, 2)
    assert len(routed) == 1  # who waited for the ask lock found the key there: nobody re-routed
