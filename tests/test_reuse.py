"""Answers reused before anyone is asked: shown beside the candidates, credited to their author
(half a favour, once per reader), counted in the weekly summary, and measured on a site."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from router.evaluation.reuse import evaluate_reuse
from router.ledger.favours import person_totals
from router.ledger.summary import build_weekly_summary
from router.ledger.summary_text import render_person_summary
from router.network import people
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Favour
from tests.api_client import ApiHarness, Tenant

WEBHOOK_QUESTION = "How do I retry a failed Stripe webhook?"


def _person(api: ApiHarness, tenant: Tenant, name: str) -> dict[str, Any]:
    response = api.client.post(
        "/v1/people",
        json={"name": name, "external_ids": [f"t:{name.lower()}"]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _world(api: ApiHarness) -> tuple[Tenant, dict[str, Any]]:
    tenant = api.network("acme")
    ada, bob = _person(api, tenant, "Ada"), _person(api, tenant, "Bob")
    _person(api, tenant, "Cy")
    _person(api, tenant, "Dee")
    past = api.client.post(
        f"/v1/people/{ada['id']}/evidence",
        json={
            "kind": "answer",
            "context": WEBHOOK_QUESTION,
            "text": "Stripe retries failed webhooks for three days; resend one from the dashboard.",
            "link": "https://forum.example/t/42",
        },
        headers=tenant.headers,
    ).json()
    api.client.post(
        f"/v1/people/{bob['id']}/evidence",
        json={"kind": "answer", "context": "Which hops?", "text": "Citra hops for a hazy IPA"},
        headers=tenant.headers,
    )
    return tenant, past


def _route(api: ApiHarness, tenant: Tenant, question: str) -> dict[str, Any]:
    response = api.client.post(
        "/v1/route", json={"question": question, "asker": "t:cy"}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_route_shows_a_close_past_answer_beside_the_candidates(api: ApiHarness) -> None:
    tenant, past = _world(api)
    body = _route(api, tenant, "how can I resend a stripe webhook that failed?")
    (answer,) = body["answers"]
    assert answer["evidence_id"] == past["id"] and answer["name"] == "Ada"
    assert answer["question"] == WEBHOOK_QUESTION
    assert answer["excerpt"].startswith("Stripe retries failed webhooks")
    assert answer["link"] == "https://forum.example/t/42"
    assert body["candidates"][0]["name"] == "Ada"


def test_a_question_nobody_answered_before_shows_no_past_answer(api: ApiHarness) -> None:
    tenant, _ = _world(api)
    assert _route(api, tenant, "Kubernetes ingress with TLS certificates?")["answers"] == []


def test_answers_given_through_askaround_are_never_suggested(
    api: ApiHarness, now: datetime
) -> None:
    tenant = api.network("acme")
    ada = _person(api, tenant, "Ada")
    with api.services.database.transaction() as session:
        people.add_evidence(
            session,
            network_id=tenant.network_id,
            person_id=ada["id"],
            kind="answer",
            text="Stripe retries failed webhooks for three days",
            context=WEBHOOK_QUESTION,
            source=people.ASKAROUND_SOURCE,
            created_at=now,
        )
    assert _route(api, tenant, WEBHOOK_QUESTION)["answers"] == []


def test_that_answers_it_credits_the_author_half_a_favour_once(
    api: ApiHarness, now: datetime
) -> None:
    tenant, past = _world(api)
    for _ in range(2):
        response = api.client.post(
            "/v1/reuses", json={"evidence_id": past["id"], "asker": "t:cy"}, headers=tenant.headers
        )
        assert response.status_code == 201, response.text
        assert response.json()["credited"] is True and response.json()["weight"] == 0.5
    with api.services.database.transaction() as session:
        favours = session.scalars(select(Favour).where(Favour.kind == "reuse")).all()
        assert [(f.weight, f.taker_id) for f in favours] == [(0.5, favours[0].taker_id)]
        ada = people.get_person(session, network_id=tenant.network_id, external_id="t:ada")
        totals = person_totals(session, network_id=tenant.network_id, person_id=ada.id)
    assert (totals.given, totals.given_count) == (0.5, 0)  # a reuse is not an answer


def test_reusing_your_own_answer_credits_nobody(api: ApiHarness) -> None:
    tenant, past = _world(api)
    response = api.client.post(
        "/v1/reuses", json={"evidence_id": past["id"], "asker": "t:ada"}, headers=tenant.headers
    )
    assert response.status_code == 201 and response.json()["credited"] is False


def test_weekly_summary_says_how_many_more_people_your_answers_helped(
    api: ApiHarness, now: datetime
) -> None:
    tenant, past = _world(api)
    for reader in ("t:cy", "t:dee", "t:bob"):
        api.client.post(
            "/v1/reuses", json={"evidence_id": past["id"], "asker": reader}, headers=tenant.headers
        )
    with api.services.database.transaction() as session:
        ada = people.get_person(session, network_id=tenant.network_id, external_id="t:ada")
        summary = build_weekly_summary(session, network_id=tenant.network_id, now=now)
        next_week = build_weekly_summary(
            session, network_id=tenant.network_id, now=now + timedelta(days=7)
        )
    mine = summary.person(ada.id)
    assert mine.reused_week == 3
    assert "Your answers helped 3 more people this week" in render_person_summary(mine, now=now)
    assert next_week.person(ada.id).reused_week == 0


def test_reuse_is_measured_on_a_stack_exchange_site(
    tmp_path: Path, database: Database, settings: Settings
) -> None:
    folder = Path(__file__).parent / "fixtures" / "stackexchange"
    result = evaluate_reuse(
        folder=folder, database=database, settings=settings, embedder=HashingEmbedder()
    )
    assert result.answered > 0 and result.floors
    lowest, highest = result.floors[0], result.floors[-1]
    assert 0 < lowest.found <= 1
    assert highest.shown_answered <= lowest.shown_answered  # a higher floor shows less
    assert "found" in result.table()
