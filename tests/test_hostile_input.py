"""Hostile input gets a clear 4xx and changes nothing: far-future dates, impossible weeks, text a
database cannot store, ids the importer would refuse, and one tenant's bad data never stops another."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text, update
from sqlalchemy.exc import OperationalError

from askaround.api.dependencies import SessionDep
from askaround.api.errors import is_busy
from askaround.cli.serve import serve
from router.errors import ImportFormatError, InvalidInput
from router.importers.people_file import import_people_file
from router.network.people import add_evidence, ensure_network, ensure_person
from router.routing.router import Router
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import Evidence, Network
from tests.api_client import ApiHarness, Tenant

FAR_FUTURE = "2600-01-01T00:00:00Z"


@pytest.fixture
def api(settings: Settings, now: datetime) -> ApiHarness:
    return ApiHarness.start(settings, now=now)


def _person(api: ApiHarness, tenant: Tenant, n: int = 1) -> int:
    response = api.client.post(
        "/v1/people",
        json={"name": f"P{n}", "external_ids": [f"t:{n}"]},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_evidence_dated_far_in_the_future_is_refused_with_422(api: ApiHarness) -> None:
    tenant = api.network("acme")
    person = _person(api, tenant)
    created = api.client.post(
        f"/v1/people/{person}/evidence",
        json={"kind": "answer", "text": "grafana", "created_at": FAR_FUTURE},
        headers=tenant.headers,
    )
    assert created.status_code == 422 and "future" in created.json()["detail"]
    stored = api.client.post(
        f"/v1/people/{person}/evidence",
        json={"kind": "answer", "text": "grafana"},
        headers=tenant.headers,
    ).json()
    patched = api.client.patch(
        f"/v1/evidence/{stored['id']}", json={"created_at": FAR_FUTURE}, headers=tenant.headers
    )
    assert patched.status_code == 422
    assert api.client.post("/v1/route", json={"question": "grafana?"}, headers=tenant.headers)


def test_far_future_evidence_already_stored_does_not_stop_routing(
    api: ApiHarness, now: datetime
) -> None:
    tenant = api.network("acme")
    person = _person(api, tenant)
    with api.services.database.transaction() as session:
        add_evidence(  # as an import or an older version might have stored it
            session,
            network_id=tenant.network_id,
            person_id=person,
            kind="answer",
            text="grafana dashboards",
            source="test",
            created_at=datetime(2600, 1, 1, tzinfo=UTC),
        )
    routed = api.client.post(
        "/v1/route", json={"question": "grafana dashboards?"}, headers=tenant.headers
    )
    assert routed.status_code == 200, routed.text
    assert [c["person_id"] for c in routed.json()["candidates"]] == [person]


def test_network_whose_index_cannot_load_is_reported_and_the_others_warm(
    database: Database, settings: Settings, now: datetime
) -> None:
    with database.transaction() as session:
        ids = {}
        for name in ("broken", "fine"):
            network = ensure_network(session, name=name, now=now)
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
    router = Router(database=database, embedder=HashingEmbedder(), settings=settings)
    with database.transaction() as session:
        warmed = router.warm(session)
    assert warmed.loaded == (ids["fine"],)
    assert [network_id for network_id, _ in warmed.failed] == [ids["broken"]]
    with database.transaction() as session:
        route = router.route(
            session, network_id=ids["fine"], question="grafana?", asker_id=None, k=1, now=now
        )
        assert route.candidates


@pytest.mark.parametrize("path", ["/v1/summary", "/v1/people/{person}/summary"])
def test_summary_of_the_last_week_of_year_9999_is_a_422(api: ApiHarness, path: str) -> None:
    tenant = api.network("acme")
    person = _person(api, tenant)
    response = api.client.get(
        path.format(person=person), params={"week": "9999-W52"}, headers=tenant.headers
    )
    assert response.status_code == 422 and "no week" in response.json()["detail"]


def test_router_refuses_a_question_with_a_lone_surrogate(
    database: Database, settings: Settings
) -> None:
    router = Router(database=database, embedder=HashingEmbedder(), settings=settings)
    with pytest.raises(InvalidInput, match="surrogate"):
        router.validate(question="grafana \ud83d?", k=3)
    assert router.validate(question="grafana \U0001f600?", k=3) == "grafana \U0001f600?"


def test_the_core_refuses_a_question_of_zero_width_characters_only(
    database: Database, settings: Settings, now: datetime
) -> None:
    """Not only the edges: anything routing through the core directly gets the same refusal."""
    router = Router(database=database, embedder=HashingEmbedder(), settings=settings)
    with database.transaction() as session:
        network_id = ensure_network(session, name="acme", now=now).id
        for question in ("\u200b\ufeff", " \u2060\u200d\n"):
            with pytest.raises(InvalidInput, match="the question is empty"):
                router.validate(question=question, k=3)
            with pytest.raises(InvalidInput, match="the question is empty"):
                router.route(
                    session, network_id=network_id, question=question, asker_id=None, k=3, now=now
                )
    assert router.validate(question="\ufeff which\u200b hops? ", k=3) == "which hops?"


@pytest.mark.parametrize("external_id", ["nocolon", "Slack:U1", "t:"])
def test_api_refuses_an_external_id_the_people_importer_would_refuse(
    api: ApiHarness, external_id: str
) -> None:
    tenant = api.network("acme")
    response = api.client.post(
        "/v1/people", json={"name": "Ada", "external_ids": [external_id]}, headers=tenant.headers
    )
    assert response.status_code == 422


def test_core_refuses_text_with_nul_characters_on_every_database(
    database: Database, now: datetime
) -> None:
    with database.transaction() as session:
        network = ensure_network(session, name="acme", now=now)
        with pytest.raises(InvalidInput, match="NUL"):
            ensure_person(
                session, network_id=network.id, external_ids=["t:1"], display_name="A\x00", now=now
            )
        person = ensure_person(
            session, network_id=network.id, external_ids=["t:1"], display_name="A", now=now
        )
        with pytest.raises(InvalidInput, match="NUL"):
            add_evidence(
                session,
                network_id=network.id,
                person_id=person.id,
                kind="interest",
                text="dbt\x00",
                source="test",
                created_at=now,
            )


def _import(database: Database, now: datetime, path: Path) -> None:
    with database.transaction() as session:
        network = ensure_network(session, name="team", now=now)
        import_people_file(session, network_id=network.id, path=path, now=now)


HEADER = "name,external_ids,email,timezone,interests,profile\n"


@pytest.mark.parametrize(
    ("name", "content", "line", "reason"),
    [
        ("nul.csv", HEADER + "Ana,t:ana,,,dbt,\nBo\x00b,t:bob,,,,\n", 3, "NUL"),
        (
            "nul.jsonl",
            '{"name": "Ana", "external_ids": ["t:a"]}\n'
            '{"name": "B", "external_ids": ["t:b"], "profile": "x\\u0000"}\n',
            2,
            "NUL",
        ),
        ("short.csv", HEADER + "Ana,t:ana,,,dbt,\nBob,t:bob\n", 3, "fewer values"),
        ("empty.csv", "", None, "empty"),
        ("empty.jsonl", "", None, "empty"),
        ("header.csv", HEADER, None, "no people"),
    ],
)
def test_bad_people_file_names_its_line_and_stores_nothing(
    database: Database,
    now: datetime,
    tmp_path: Path,
    name: str,
    content: str,
    line: int | None,
    reason: str,
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ImportFormatError, match=reason) as raised:
        _import(database, now, path)
    assert raised.value.line == line
    with database.transaction() as session:
        assert session.query(Network).count() == 0


def test_a_database_error_is_a_500_whose_log_carries_no_values(
    settings: Settings, now: datetime, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "my private answer about the layoffs"
    api = ApiHarness.start(settings, now=now)

    def failing(session: SessionDep) -> None:
        # PostgreSQL quotes the value in its message; SQLite accepts the cast, then fails below.
        session.execute(text("SELECT CAST(:v AS INTEGER)"), {"v": secret})
        session.execute(text("INSERT INTO no_such_table VALUES (:v)"), {"v": secret})

    api.client.app.add_api_route("/v1/failing", failing, methods=["POST"])
    client = TestClient(api.client.app, base_url="http://localhost", raise_server_exceptions=False)
    with caplog.at_level(logging.DEBUG):
        response = client.post("/v1/failing")
    assert response.status_code == 500 and secret not in response.text
    assert "database error" in caplog.text
    assert secret not in caplog.text
    api.close()


def test_serve_starts_and_reports_a_network_whose_index_cannot_load(
    settings: Settings,
    now: datetime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    monkeypatch.setenv("ASKAROUND_DATABASE_URL", settings.resolved_database_url)
    monkeypatch.setenv("ASKAROUND_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASKAROUND_MODEL_NAME", "hashing-test")
    database = Database(settings.resolved_database_url)
    database.migrate()
    with database.transaction() as session:
        network = ensure_network(session, name="broken", now=now)
        person = ensure_person(
            session, network_id=network.id, external_ids=["t:1"], display_name="A", now=now
        )
        evidence = add_evidence(
            session,
            network_id=network.id,
            person_id=person.id,
            kind="answer",
            text="grafana",
            source="test",
            created_at=now,
        )
        evidence.embedding, evidence.embedding_model = b"\x00", "hashing-test"
        ensure_network(session, name="fine", now=now)
    database.dispose()
    started: dict[str, object] = {}
    reported = f"network #{network.id}: its index did not load"

    def run(server: uvicorn.Server) -> None:
        """Serving: wait (bounded) while the indexes load in the background."""
        started.update(app=server.config.app)
        server.started = True  # listening: warming begins
        deadline = time.monotonic() + 60
        while reported not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)

    monkeypatch.setattr(uvicorn.Server, "run", run)
    serve(network=None, host="127.0.0.1", port=8125)
    assert "app" in started  # it served
    assert reported in caplog.text


def test_only_a_busy_database_is_a_503_other_database_errors_are_bugs(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    holder = create_engine(url)
    waiter = create_engine(url, connect_args={"timeout": 0})
    with holder.connect() as held:
        held.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        held.commit()
        held.exec_driver_sql("BEGIN IMMEDIATE")
        held.exec_driver_sql("INSERT INTO t VALUES (1)")
        with pytest.raises(OperationalError) as locked, waiter.connect() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (2)")
            connection.commit()
        held.rollback()
    with pytest.raises(OperationalError) as missing, waiter.connect() as connection:
        connection.exec_driver_sql("SELECT * FROM no_such_table")
    assert is_busy(locked.value) and not is_busy(missing.value)
    holder.dispose()
    waiter.dispose()


@pytest.mark.parametrize("evidence_id", [2**31, 2**63, 2**64])
def test_reuse_of_an_evidence_id_no_database_can_hold_is_a_422(
    api: ApiHarness, evidence_id: int
) -> None:
    tenant = api.network("acme")
    _person(api, tenant)
    response = api.client.post(
        "/v1/reuses", json={"evidence_id": evidence_id, "asker": "t:1"}, headers=tenant.headers
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "evidence_id"]


INVISIBLE_NAMES = ["\u200b\u200b", " \ufeff\u2060 ", "\u3164"]


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_a_name_of_invisible_characters_only_is_refused_by_the_api_and_stores_nobody(
    api: ApiHarness, name: str
) -> None:
    tenant = api.network("acme")
    person_id = _person(api, tenant)
    response = api.client.post(
        "/v1/people", json={"name": name, "external_ids": ["t:2"]}, headers=tenant.headers
    )
    assert response.status_code == 422 and "name" in response.text
    renamed = api.client.patch(
        f"/v1/people/{person_id}", json={"name": name}, headers=tenant.headers
    )
    assert renamed.status_code == 422 and "name" in renamed.text
    listed = api.client.get("/v1/people", headers=tenant.headers).json()
    assert [person["name"] for person in listed["items"]] == ["P1"]


@pytest.mark.parametrize("name", INVISIBLE_NAMES)
def test_a_people_file_naming_someone_with_invisible_characters_only_stores_nothing(
    database: Database, now: datetime, tmp_path: Path, name: str
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(HEADER + f"Ana,t:ana,,,,\n{name},t:bob,,,,\n", encoding="utf-8")
    with pytest.raises(ImportFormatError, match="name is missing") as raised:
        _import(database, now, path)
    assert raised.value.line == 3
    with database.transaction() as session:
        assert session.query(Network).count() == 0
        with pytest.raises(InvalidInput, match="a person needs a name"):
            ensure_person(
                session,
                network_id=ensure_network(session, name="acme", now=now).id,
                external_ids=["t:1"],
                display_name=name,
                now=now,
            )
