"""The question lifecycle over HTTP: ask, answer, pass, decline, helpful, close, history, ledger."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from router.settings import Settings
from router.storage.schema import OutboxMessage
from tests.api_client import ApiHarness, Tenant


@dataclass
class Office:
    api: ApiHarness
    tenant: Tenant
    ids: dict[str, int]

    def post(self, path: str, body: Any) -> Any:
        return self.api.client.post(path, json=body, headers=self.tenant.headers)

    def get(self, path: str, **params: Any) -> Any:
        return self.api.client.get(path, params=params, headers=self.tenant.headers)


@pytest.fixture
def office(settings: Settings, now: datetime) -> Iterator[Office]:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    people = {
        "asker": "Curious about everything",
        "ada": "Grafana dashboards and Prometheus alert rules",
        "bob": "Grafana Loki log queries and alerting",
        "cy": "Stripe webhooks and idempotency keys",
        "dee": "dbt incremental models on Snowflake",
    }
    ids = {}
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
        ids[name] = person["id"]
    yield Office(api=api, tenant=tenant, ids=ids)
    api.close()


def _ask(office: Office, k: int = 2) -> dict[str, Any]:
    response = office.post(
        "/v1/questions",
        {"question": "Why is my Grafana alert not firing?", "asker": "t:asker", "k": k},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _ask_of(question: dict[str, Any], person_id: int) -> dict[str, Any]:
    return next(ask for ask in question["asks"] if ask["person_id"] == person_id)


def test_asking_routes_and_asks_the_best_people_with_reasons(office: Office) -> None:
    created = _ask(office)
    question = created["question"]
    asked = {ask["person_id"] for ask in question["asks"]}
    assert asked == {office.ids["ada"], office.ids["bob"]}
    assert all(ask["status"] == "pending" and ask["reasons"] for ask in question["asks"])
    assert [c["name"] for c in created["route"]["candidates"]] == [
        ask["person_name"] for ask in question["asks"]
    ]
    with office.api.services.database.transaction() as session:
        kinds = session.scalars(select(OutboxMessage.kind)).all()
    assert sorted(kinds) == ["ask", "ask"]
    waiting = office.get(f"/v1/people/{office.ids['ada']}/asks").json()
    assert [ask["question_id"] for ask in waiting] == [question["id"]]


def test_answer_helpful_and_close_show_in_history_and_ledger(office: Office) -> None:
    question = _ask(office)["question"]
    ask = _ask_of(question, office.ids["ada"])
    answered = office.post(
        f"/v1/asks/{ask['id']}/answer", {"person": "t:ada", "text": "Check the pending period."}
    )
    assert answered.status_code == 201, answered.text
    answer = answered.json()
    again = office.post(
        f"/v1/asks/{ask['id']}/answer", {"person": "t:ada", "text": "Check the pending period."}
    )
    assert again.json()["id"] == answer["id"]  # a retried request changes nothing
    helpful = office.post(f"/v1/answers/{answer['id']}/helpful", {"asker": "t:asker"})
    assert helpful.status_code == 200 and helpful.json()["helpful"] is True
    closed = office.post(f"/v1/questions/{question['id']}/close", {"asker": "t:asker"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"

    history = office.get(f"/v1/questions/{question['id']}").json()
    kinds = [event["kind"] for event in history["events"]]
    assert kinds[:1] == ["created"] and {"asked", "answered", "helpful", "closed"} <= set(kinds)
    assert history["question"]["answers"][0]["text"] == "Check the pending period."

    ada_ledger = office.get(f"/v1/people/{office.ids['ada']}/ledger").json()
    assert ada_ledger["totals"]["given"] == 2.0 and ada_ledger["totals"]["given_count"] == 1
    assert [debt["name"] for debt in ada_ledger["owed_by"]] == ["Asker"]
    pair = office.get(f"/v1/people/{office.ids['asker']}/ledger/{office.ids['ada']}").json()
    assert pair["got"] == 2.0 and pair["debtor_id"] == office.ids["asker"]


def test_only_the_person_asked_can_answer_and_only_the_asker_can_close(office: Office) -> None:
    question = _ask(office)["question"]
    ask = _ask_of(question, office.ids["ada"])
    wrong = office.post(f"/v1/asks/{ask['id']}/answer", {"person": "t:bob", "text": "me!"})
    assert wrong.status_code == 403 and wrong.json()["error"] == "permission_denied"
    not_asker = office.post(f"/v1/questions/{question['id']}/close", {"asker": "t:ada"})
    assert not_asker.status_code == 403
    stranger = office.post(f"/v1/asks/{ask['id']}/answer", {"person": "t:nobody", "text": "x"})
    assert stranger.status_code == 404
    assert office.get(f"/v1/questions/{question['id']}").json()["question"]["status"] == "open"


def test_pass_and_decline_are_recorded_and_cannot_be_undone_by_an_answer(office: Office) -> None:
    question = _ask(office)["question"]
    ada, bob = _ask_of(question, office.ids["ada"]), _ask_of(question, office.ids["bob"])
    passed = office.post(f"/v1/asks/{ada['id']}/pass", {"person": "t:ada"})
    assert passed.status_code == 200 and passed.json()["status"] == "passed"
    declined = office.post(f"/v1/asks/{bob['id']}/decline", {"person": "t:bob"})
    assert declined.json()["status"] == "declined"
    late = office.post(f"/v1/asks/{ada['id']}/decline", {"person": "t:ada"})
    assert late.status_code == 409 and "passed" in late.json()["detail"]
    kinds = [e["kind"] for e in office.get(f"/v1/questions/{question['id']}").json()["events"]]
    assert "passed" in kinds and "declined" in kinds


def test_snoozing_from_an_ask_passes_it_and_keeps_the_person_out_of_routes(
    office: Office,
) -> None:
    question = _ask(office)["question"]
    ask = _ask_of(question, office.ids["ada"])
    response = office.post(
        f"/v1/asks/{ask['id']}/snooze", {"person": "t:ada", "until": "2026-11-30T09:00:00Z"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["ask"]["status"] == "passed"
    assert response.json()["snoozed_until"].startswith("2026-11-30T09:00:00")
    person = office.get(f"/v1/people/{office.ids['ada']}").json()
    assert person["snoozed_until"].startswith("2026-11-30T09:00:00")
    route = office.post("/v1/route", {"question": "Grafana alert rules", "k": 5}).json()
    assert "Ada" not in [candidate["name"] for candidate in route["candidates"]]
    too_long = office.post(
        f"/v1/asks/{ask['id']}/snooze", {"person": "t:ada", "until": "2027-11-30T09:00:00Z"}
    )
    assert too_long.status_code == 422
    as_number = office.post(
        f"/v1/asks/{ask['id']}/snooze", {"person": "t:ada", "until": 1795424400}
    )
    assert as_number.status_code == 422 and "ISO 8601" in as_number.text


def test_a_second_answer_with_other_text_is_a_conflict_and_the_first_is_kept(
    office: Office,
) -> None:
    question = _ask(office)["question"]
    ask = _ask_of(question, office.ids["ada"])
    path = f"/v1/asks/{ask['id']}/answer"
    first = office.post(path, {"person": "t:ada", "text": "Check the pending period."})
    assert first.status_code == 201, first.text
    with office.api.services.database.transaction() as session:
        outbox_before = session.scalar(select(func.count()).select_from(OutboxMessage))
    other = office.post(path, {"person": "t:ada", "text": "Actually, restart Grafana."})
    assert other.status_code == 409, other.text
    assert other.json()["error"] == "conflict" and "already answered" in other.json()["detail"]
    retry = office.post(path, {"person": "t:ada", "text": "  Check the pending period.\n"})
    assert retry.status_code == 201 and retry.json() == first.json()  # an exact retry still is
    history = office.get(f"/v1/questions/{question['id']}").json()
    assert [a["text"] for a in history["question"]["answers"]] == ["Check the pending period."]
    assert [e["kind"] for e in history["events"]].count("answered") == 1
    with office.api.services.database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before
    ledger = office.get(f"/v1/people/{office.ids['ada']}/ledger").json()
    assert ledger["totals"]["given_count"] == 1


def test_answering_a_closed_question_is_a_conflict(office: Office) -> None:
    question = _ask(office)["question"]
    office.post(f"/v1/questions/{question['id']}/close", {"asker": "t:asker"})
    ask = _ask_of(question, office.ids["ada"])
    late = office.post(f"/v1/asks/{ask['id']}/answer", {"person": "t:ada", "text": "late"})
    assert late.status_code == 409 and late.json()["error"] == "conflict"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"question": "grafana?", "asker": "t:unknown"}, 404),
        ({"question": "", "asker": "t:asker"}, 422),
        ({"question": "?", "asker": "t:asker"}, 422),
        ({"question": "\u200b?\u200b", "asker": "t:asker"}, 422),
        ({"question": "x" * 40_001, "asker": "t:asker"}, 422),
        ({"question": "grafana?", "asker": "t:asker", "k": 0}, 422),
        ({"question": "grafana?", "asker": "t:asker", "k": 10_000}, 422),
        ({"question": "grafana?"}, 422),
        ({"question": "grafana?", "asker": "t:asker", "anonymous": "yes"}, 422),
    ],
)
def test_bad_question_is_refused_with_a_reason_and_nothing_is_asked(
    office: Office, body: dict[str, Any], status: int
) -> None:
    response = office.post("/v1/questions", body)
    assert response.status_code == status
    assert response.json()["detail"]
    assert office.get("/v1/questions").json()["items"] == []
    with office.api.services.database.transaction() as session:
        assert session.scalars(select(OutboxMessage)).all() == []


def test_questions_list_filters_by_status_and_asker_and_pages(office: Office) -> None:
    first, second = _ask(office, k=1)["question"], _ask(office, k=1)["question"]
    office.post(f"/v1/questions/{first['id']}/close", {"asker": "t:asker"})
    page = office.get("/v1/questions", limit=1).json()
    assert [q["id"] for q in page["items"]] == [second["id"]] and page["next_offset"] == 1
    rest = office.get("/v1/questions", limit=1, offset=1).json()
    assert [q["id"] for q in rest["items"]] == [first["id"]]
    closed = office.get("/v1/questions", status="closed").json()["items"]
    assert [q["id"] for q in closed] == [first["id"]]
    assert office.get("/v1/questions", asker="t:ada").status_code == 200
    assert office.get("/v1/questions", asker="t:ada").json()["items"] == []
    assert office.get("/v1/questions", status="lost").status_code == 422


def test_ledger_window_must_be_ordered(office: Office) -> None:
    response = office.get(
        f"/v1/people/{office.ids['ada']}/ledger",
        since="2026-11-23T00:00:00Z",
        until="2026-11-01T00:00:00Z",
    )
    assert response.status_code == 422 and "before" in response.json()["detail"]
    same = office.get(f"/v1/people/{office.ids['ada']}/ledger/{office.ids['ada']}")
    assert same.status_code == 422


def test_weekly_summary_names_who_owes_whom_for_a_person_and_the_network(office: Office) -> None:
    question = _ask(office)["question"]
    ask = _ask_of(question, office.ids["ada"])
    answer = office.post(f"/v1/asks/{ask['id']}/answer", {"person": "t:ada", "text": "Yes."})
    office.post(f"/v1/answers/{answer.json()['id']}/helpful", {"asker": "t:asker"})

    mine = office.get(f"/v1/people/{office.ids['asker']}/summary", week="2026-W48")
    assert mine.status_code == 200, mine.text
    summary = mine.json()
    assert summary["week"] == "2026-W48"
    assert summary["received_week"] == {"count": 1, "weight": 2.0}
    assert [(o["name"], o["they_answered"]) for o in summary["owes"]] == [("Ada", 1)]
    assert "Ada" in summary["text"]
    bob = office.get(f"/v1/people/{office.ids['bob']}/summary").json()
    assert [w["question_id"] for w in bob["waiting"]] == [question["id"]]

    network = office.get("/v1/summary", week="2026-W48").json()
    assert [giver["name"] for giver in network["top_givers"]] == ["Ada"]
    assert network["only_take"] == ["Asker"]
    assert network["spread"]["asks"] == 2 and network["spread"]["max_per_person"] == 1


@pytest.mark.parametrize("week", ["2026-48", "2026-W54", "2027-W01", "0001-W01", "1999-W52"])
def test_a_summary_week_that_cannot_be_summarised_is_a_422(office: Office, week: str) -> None:
    response = office.get("/v1/summary", week=week)
    assert response.status_code == 422 and response.json()["detail"]


def test_answerers_weekly_summary_never_names_an_anonymous_asker(office: Office) -> None:
    response = office.post(
        "/v1/questions",
        {"question": "Why is my Grafana alert not firing?", "asker": "t:asker", "anonymous": True},
    )
    ask = _ask_of(response.json()["question"], office.ids["ada"])
    answer = office.post(f"/v1/asks/{ask['id']}/answer", {"person": "t:ada", "text": "Yes."})
    office.post(f"/v1/answers/{answer.json()['id']}/thanks", {"asker": "t:asker"})

    ada = office.get(f"/v1/people/{office.ids['ada']}/summary", week="2026-W48").json()
    assert "Asker" not in str(ada) and "Asker" not in ada["text"]
    assert [(o["name"], o["net"]) for o in ada["owed_by"]] == [
        ("someone who asked anonymously", 1.25)
    ]
    bob = office.get(f"/v1/people/{office.ids['bob']}/summary", week="2026-W48").json()
    assert "Asker" not in str(bob) and bob["waiting"]
    asker = office.get(f"/v1/people/{office.ids['asker']}/summary", week="2026-W48").json()
    assert [(o["name"], o["net"]) for o in asker["owes"]] == [("Ada", 1.25)]
    assert "Ada" in asker["text"]
