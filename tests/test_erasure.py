"""Forget me: a person's words and identity leave the database and the index files, while the
favours they gave and received stay, anonymised, so nobody else's balance moves."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import select

from router.ledger.favours import balances, person_ledger
from router.lifecycle.escalation import tick
from router.lifecycle.questions import answer_ask, ask_question
from router.network import people
from router.network.erasure import FORMER_MEMBER
from router.search.backfill import embed_pending, evidence_document
from router.search.vectors import VectorIndex
from router.settings import Settings
from router.storage.schema import Ask, Base
from tests.api_client import ApiHarness, Tenant

ZED_SECRETS = (
    "Zebedee Quill",
    "slack:UZED42",
    "zed@quill.example",
    "marmalade zeppelin calibration",
    "how do I calibrate a quokka spectrometer",
    "use the Bramblewick torsion method",
)


def _add(session: Any, network_id: int, key: str, name: str, topic: str, now: datetime) -> int:
    person = people.ensure_person(
        session,
        network_id=network_id,
        external_ids=[key],
        display_name=name,
        now=now,
        email=f"{key.split(':')[1].lower()}@example.org" if key != "slack:UZED42" else None,
    )
    people.add_evidence(
        session,
        network_id=network_id,
        person_id=person.id,
        kind="answer",
        text=topic,
        source="test",
        source_key=f"{key}:0",
        created_at=now - timedelta(days=20),
    )
    return person.id


def _world(api: ApiHarness, tenant: Tenant, now: datetime) -> dict[str, int]:
    """Zed asks (Ana answers) and answers Ana; Ben and Ana trade favours too."""
    svc = api.services
    with svc.database.transaction() as session:
        nid = tenant.network_id
        ids = {
            "zed": _add(session, nid, "slack:UZED42", "Zebedee Quill", ZED_SECRETS[3], now),
            "ana": _add(session, nid, "slack:UANA", "Ana", "quokka spectrometer optics", now),
            "ben": _add(session, nid, "slack:UBEN", "Ben", "torsion pendulum methods", now),
        }
        people.get_person_by_id(session, network_id=nid, person_id=ids["zed"]).email = ZED_SECRETS[
            2
        ]
        embed_pending(session, network_id=nid, embedder=svc.embedder)
    assert api.client.post(
        "/v1/route", json={"question": "marmalade zeppelin"}, headers=tenant.headers
    ).json()["candidates"][0]["name"] == ("Zebedee Quill")
    for day, (asker, answerer, text, answer) in enumerate(
        [
            ("zed", "ana", ZED_SECRETS[4], "Align the optics first"),
            ("ana", "zed", "torsion calibration for a pendulum?", ZED_SECRETS[5]),
            ("ana", "ben", "torsion pendulum methods for clocks?", "Laser collimator"),
        ]
    ):
        when = now + timedelta(days=4 * day)
        with svc.database.transaction() as session:
            asked = ask_question(
                session,
                router=svc.router,
                settings=svc.settings,
                network_id=tenant.network_id,
                asker_id=ids[asker],
                text=text,
                now=when,
                k=2,
            )
            ask_id = session.scalar(
                select(Ask.id).where(
                    Ask.question_id == asked.question.id, Ask.person_id == ids[answerer]
                )
            )
            assert ask_id is not None, f"{answerer} was not asked {text!r}"
            answer_ask(
                session,
                network_id=tenant.network_id,
                ask_id=ask_id,
                person_id=ids[answerer],
                text=answer,
                now=when,
            )
    return ids


def _every_stored_string(api: ApiHarness) -> str:
    """Every row of every table, as one string."""
    parts: list[str] = []
    with api.services.database.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                parts.append(repr(tuple(row)))
    return "\n".join(parts)


def test_erased_person_leaves_no_text_in_the_database_or_the_index_files(
    api: ApiHarness, now: datetime
) -> None:
    tenant = api.network("acme")
    ids = _world(api, tenant, now)
    stored = _every_stored_string(api)
    assert all(secret in stored for secret in ZED_SECRETS)  # the check can fail
    index_dir = api.services.settings.index_dir
    api.services.router.indexes.save_changed()  # as serve's background loop does
    assert list(index_dir.glob(f"network-{tenant.network_id}-*.index"))

    response = api.client.delete(f"/v1/people/{ids['zed']}", headers=tenant.headers)
    assert response.status_code == 204, response.text

    stored = _every_stored_string(api)
    assert [secret for secret in ZED_SECRETS if secret in stored] == []
    api.client.post("/v1/route", json={"question": "anything at all"}, headers=tenant.headers)
    api.services.router.indexes.save_changed()
    files = list(index_dir.glob(f"network-{tenant.network_id}-*"))
    assert files
    for path in files:
        raw = path.read_bytes()
        assert not any(secret.encode() in raw for secret in ZED_SECRETS)
    faiss_file = index_dir / files[0].with_suffix(".index").name
    saved = VectorIndex.load(
        faiss_file,
        model=api.services.embedder.name,
        dimension=api.services.embedder.dimension,
        exact_max=50_000,
        hnsw_m=32,
        ef_search=64,
    )
    assert saved is not None
    with api.services.database.transaction() as session:
        remaining = {e.id for e in people_evidence(session, tenant.network_id)}
    assert set(saved.ids().tolist()) == remaining
    assert (
        saved.saved_manifest is not None and saved.saved_manifest["dead_positions"] == []
    )  # rebuilt
    zed_vector = api.services.embedder.encode([evidence_document("answer", ZED_SECRETS[3], "")])
    _, scores = saved.search(zed_vector[0], 3)
    assert float(np.max(scores)) < 0.99


def people_evidence(session: Any, network_id: int) -> list[Any]:
    from router.storage.schema import Evidence

    return list(session.scalars(select(Evidence).where(Evidence.network_id == network_id)))


def test_others_balances_stay_when_a_person_is_forgotten(api: ApiHarness, now: datetime) -> None:
    tenant = api.network("acme")
    ids = _world(api, tenant, now)
    with api.services.database.transaction() as session:
        before = balances(session, network_id=tenant.network_id)
    assert before[ids["zed"]] != 0 or before[ids["ana"]] != 0
    for _ in range(2):  # erasing twice is the same as once
        response = api.client.delete(f"/v1/people/{ids['zed']}", headers=tenant.headers)
        assert response.status_code == 204
    with api.services.database.transaction() as session:
        after = balances(session, network_id=tenant.network_id)
        former = person_ledger(session, network_id=tenant.network_id, person_id=ids["zed"])
    assert after == before
    assert former.name == FORMER_MEMBER
    assert (former.totals.given, former.totals.received) == (1.0, 1.0)
    assert api.client.get(f"/v1/people/{ids['zed']}", headers=tenant.headers).status_code == 404
    names = [
        p["name"] for p in api.client.get("/v1/people", headers=tenant.headers).json()["items"]
    ]
    assert names == ["Ana", "Ben"]
    route = api.client.post(
        "/v1/route", json={"question": "marmalade zeppelin calibration"}, headers=tenant.headers
    ).json()
    assert FORMER_MEMBER not in [c["name"] for c in route["candidates"]]


def test_cli_erases_a_person_by_external_id_and_again_by_number(
    settings: Settings, now: datetime
) -> None:
    from router.storage.database import Database
    from tests.test_cli import run_cli

    database = Database(settings.resolved_database_url)
    database.migrate()
    with database.transaction() as session:
        network = people.ensure_network(session, name="acme", now=now)
        person_id = _add(session, network.id, "slack:UZED42", "Zebedee Quill", ZED_SECRETS[3], now)
    database.dispose()
    first = run_cli(settings, "people", "erase", "slack:UZED42", "--network", "acme")
    assert first.returncode == 0, first.stderr
    assert "1 evidence rows removed" in first.stdout
    again = run_cli(settings, "people", "erase", f"#{person_id}", "--network", "acme")
    assert again.returncode == 0 and "already erased" in again.stdout
    unknown = run_cli(settings, "people", "erase", "slack:UZED42", "--network", "acme")
    assert unknown.returncode != 0 and "no person" in unknown.stderr


def test_erasure_keeps_the_questions_the_person_answered_in_other_answers(
    api: ApiHarness, now: datetime
) -> None:
    tenant = api.network("acme")
    thread = "Which torque for carbon seatposts? [bikes]"
    with api.services.database.transaction() as session:
        ids = {}
        for key, name, text in (
            ("t:zed", "Zebedee Quill", "Five newton metres with carbon paste"),
            ("t:ana", "Ana", "Follow the stem maker's figure"),
        ):
            ids[key] = people.ensure_person(
                session,
                network_id=tenant.network_id,
                external_ids=[key],
                display_name=name,
                now=now,
            ).id
            people.add_evidence(
                session,
                network_id=tenant.network_id,
                person_id=ids[key],
                kind="answer",
                text=text,
                context=thread,
                source="test",
                created_at=now,
            )
    assert (
        api.client.delete(f"/v1/people/{ids['t:zed']}", headers=tenant.headers).status_code == 204
    )
    with api.services.database.transaction() as session:
        rows = people_evidence(session, tenant.network_id)
    assert [(row.context, row.text) for row in rows] == [(thread, "Follow the stem maker's figure")]


def test_a_forgotten_person_cannot_be_renamed_reidentified_or_given_evidence(
    api: ApiHarness, now: datetime
) -> None:
    tenant = api.network("acme")
    ids = _world(api, tenant, now)
    zed = ids["zed"]
    assert api.client.delete(f"/v1/people/{zed}", headers=tenant.headers).status_code == 204
    writes = [
        api.client.patch(
            f"/v1/people/{zed}", json={"name": "Zebedee Quill"}, headers=tenant.headers
        ),
        api.client.patch(
            f"/v1/people/{zed}", json={"external_ids": ["slack:UZED42"]}, headers=tenant.headers
        ),
        api.client.post(
            f"/v1/people/{zed}/evidence",
            json={"kind": "answer", "text": ZED_SECRETS[3]},
            headers=tenant.headers,
        ),
    ]
    assert [w.status_code for w in writes] == [404, 404, 404], [w.text for w in writes]
    assert all("erased" in w.json()["detail"] for w in writes)
    with api.services.database.transaction() as session:
        former = people.get_person_by_id(session, network_id=tenant.network_id, person_id=zed)
        assert former.display_name == FORMER_MEMBER and not former.external_ids
        assert not [e for e in people_evidence(session, tenant.network_id) if e.person_id == zed]


def test_a_question_waiting_only_on_a_forgotten_person_goes_to_others_at_the_next_tick(
    api: ApiHarness, now: datetime
) -> None:
    tenant = api.network("acme")
    h = tenant.headers
    api.client.post("/v1/people", json={"name": "Alex", "external_ids": ["t:alex"]}, headers=h)
    for key in ("t:ada", "t:bea"):
        person = api.client.post("/v1/people", json={"name": key, "external_ids": [key]}, headers=h)
        api.client.post(
            f"/v1/people/{person.json()['id']}/evidence",
            json={"kind": "answer", "text": "zymurgy and fermentation temperatures"},
            headers=h,
        )
    asked = api.client.post(
        "/v1/questions",
        json={"question": "zymurgy fermentation temperatures?", "asker": "t:alex", "k": 1},
        headers=h,
    ).json()["question"]
    (ask,) = asked["asks"]
    assert api.client.delete(f"/v1/people/{ask['person_id']}", headers=h).status_code == 204
    question = api.client.get(f"/v1/questions/{asked['id']}", headers=h).json()["question"]
    assert [a["status"] for a in question["asks"]] == ["expired"]
    with api.services.database.transaction() as session:
        report = tick(session, router=api.services.router, settings=api.services.settings, now=now)
    assert report.escalated == (asked["id"],)
    question = api.client.get(f"/v1/questions/{asked['id']}", headers=h).json()["question"]
    assert [a["status"] for a in question["asks"]] == ["expired", "pending"]
    assert question["asks"][1]["person_id"] != ask["person_id"]
