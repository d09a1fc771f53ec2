"""API keys: stored hashed, one network each, revocable; the HTTP API answers 401 without one."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

import askaround.cli.keys  # noqa: F401 - registers the keys commands
from askaround.cli.app import app as cli_app
from router.errors import Conflict, NotFound, Unauthenticated
from router.network.keys import authenticate, create_key, list_keys, revoke_key
from router.network.people import ensure_network
from router.settings import Settings
from router.storage.database import Database
from router.storage.schema import ApiKey
from tests.api_client import ApiHarness


def _network(database: Database, name: str, now: datetime) -> int:
    with database.transaction() as session:
        return ensure_network(session, name=name, now=now).id


def test_key_is_stored_only_as_hash_and_prefix(database: Database, now: datetime) -> None:
    network_id = _network(database, "acme", now)
    with database.transaction() as session:
        issued = create_key(session, network_id=network_id, label="ci", now=now)
    with database.transaction() as session:
        row = session.scalars(select(ApiKey)).one()
        assert issued.plaintext not in (row.key_hash, row.prefix, row.label)
        assert issued.plaintext.startswith(row.prefix)
        assert len(row.key_hash) == 64
        assert authenticate(session, plaintext=issued.plaintext) == network_id


def test_unknown_or_revoked_key_does_not_authenticate(database: Database, now: datetime) -> None:
    network_id = _network(database, "acme", now)
    with database.transaction() as session:
        issued = create_key(session, network_id=network_id, now=now)
        with pytest.raises(Unauthenticated):
            authenticate(session, plaintext=issued.plaintext + "x")
        with pytest.raises(Unauthenticated):
            authenticate(session, plaintext="")
        revoke_key(session, network_id=network_id, key_or_prefix=issued.prefix, now=now)
        with pytest.raises(Unauthenticated, match="revoked"):
            authenticate(session, plaintext=issued.plaintext)


def test_revoking_by_whole_key_keeps_the_first_revocation_date(
    database: Database, now: datetime
) -> None:
    network_id = _network(database, "acme", now)
    with database.transaction() as session:
        issued = create_key(session, network_id=network_id, now=now)
        revoke_key(session, network_id=network_id, key_or_prefix=issued.plaintext, now=now)
        later = now + timedelta(days=1)
        row = revoke_key(session, network_id=network_id, key_or_prefix=issued.prefix, now=later)
        assert row.revoked_at == now


def test_a_network_cannot_revoke_another_networks_key(database: Database, now: datetime) -> None:
    acme = _network(database, "acme", now)
    globex = _network(database, "globex", now)
    with database.transaction() as session:
        issued = create_key(session, network_id=acme, now=now)
    with database.transaction() as session, pytest.raises(NotFound):
        revoke_key(session, network_id=globex, key_or_prefix=issued.prefix, now=now)
    with database.transaction() as session:
        assert authenticate(session, plaintext=issued.plaintext) == acme


def test_ambiguous_prefix_asks_for_the_whole_key(database: Database, now: datetime) -> None:
    network_id = _network(database, "acme", now)
    with database.transaction() as session:
        first = create_key(session, network_id=network_id, now=now)
        second = create_key(session, network_id=network_id, now=now)
        session.get_one(ApiKey, second.id).prefix = first.prefix  # force a prefix collision
        session.flush()
        with pytest.raises(Conflict, match="whole key"):
            revoke_key(session, network_id=network_id, key_or_prefix=first.prefix, now=now)
        revoke_key(session, network_id=network_id, key_or_prefix=second.plaintext, now=now)
        assert authenticate(session, plaintext=first.plaintext) == network_id


def test_cli_create_prints_key_last_and_revoke_takes_its_prefix(
    settings: Settings, tmp_path: Path
) -> None:
    env = {
        "ASKAROUND_DATABASE_URL": settings.resolved_database_url,
        "ASKAROUND_DATA_DIR": str(tmp_path / "data"),
        "ASKAROUND_MODEL_NAME": "hashing-test",
    }
    runner = CliRunner()
    created = runner.invoke(
        cli_app, ["keys", "create", "--network", "acme", "--label", "ci"], env=env
    )
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    database = Database(settings.resolved_database_url)
    try:
        with database.transaction() as session:
            network_id = authenticate(session, plaintext=key)
            [row] = list_keys(session, network_id=network_id)
            assert row.label == "ci"
        listed = runner.invoke(cli_app, ["keys", "list", "--network", "acme"], env=env)
        assert row.prefix in listed.output and key not in listed.output
        revoked = runner.invoke(
            cli_app, ["keys", "revoke", row.prefix, "--network", "acme"], env=env
        )
        assert revoked.exit_code == 0, revoked.output
        with database.transaction() as session, pytest.raises(Unauthenticated):
            authenticate(session, plaintext=key)
        unknown = runner.invoke(
            cli_app, ["keys", "revoke", "ak_nothere", "--network", "acme"], env=env
        )
        assert isinstance(unknown.exception, NotFound)
    finally:
        database.dispose()


def test_data_endpoints_answer_401_without_a_key_and_health_is_open(api: ApiHarness) -> None:
    api.network("acme")
    assert api.client.get("/v1/health").status_code == 200
    response = api.client.get("/v1/people")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert api.client.post("/v1/route", json={"question": "grafana?"}).status_code == 401


def test_key_works_as_bearer_or_x_api_key_and_bad_keys_are_refused(api: ApiHarness) -> None:
    acme = api.network("acme")
    assert api.client.get("/v1/network", headers=acme.headers).json()["name"] == "acme"
    assert api.client.get("/v1/network", headers={"X-API-Key": acme.key}).status_code == 200
    for headers in (
        {"Authorization": "Bearer ak_wrong"},
        {"Authorization": f"Basic {acme.key}"},
        {"X-API-Key": acme.key[:-1]},
    ):
        response = api.client.get("/v1/network", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["detail"]


def test_two_different_keys_in_one_request_are_refused_and_the_same_key_twice_is_one(
    api: ApiHarness,
) -> None:
    acme, other = api.network("acme"), api.network("other")
    both = {"Authorization": f"Bearer {acme.key}", "X-API-Key": other.key}
    for method, path, body in (
        ("GET", "/v1/network", None),
        ("POST", "/v1/route", {"question": "grafana?"}),
        ("POST", "/v1/people", {"name": "Ada", "external_ids": ["t:ada"]}),
    ):
        response = api.client.request(method, path, json=body, headers=both)
        assert response.status_code == 401, (path, response.text)
        assert response.json()["error"] == "unauthenticated"
        assert (
            "X-API-Key" in response.json()["detail"]
            and "Authorization" in response.json()["detail"]
        )
    bad_and_good = {"Authorization": "Bearer ak_wrong", "X-API-Key": acme.key}
    assert api.client.get("/v1/network", headers=bad_and_good).status_code == 401
    for name in ("acme", "other"):  # nothing was written for either network
        tenant = acme if name == "acme" else other
        assert api.client.get("/v1/people", headers=tenant.headers).json()["items"] == []
    same = {"Authorization": f"Bearer {acme.key}", "X-API-Key": acme.key}
    assert api.client.get("/v1/network", headers=same).json()["name"] == "acme"


def test_revoked_key_is_refused_at_once(api: ApiHarness, now: datetime) -> None:
    acme = api.network("acme")
    assert api.client.get("/v1/people", headers=acme.headers).status_code == 200
    with api.services.database.transaction() as session:
        revoke_key(session, network_id=acme.network_id, key_or_prefix=acme.key, now=now)
    response = api.client.get("/v1/people", headers=acme.headers)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_open_network_serves_keyless_reads_but_not_writes(
    settings: Settings, now: datetime
) -> None:
    api = ApiHarness.start(settings, now=now, open_network="demo")
    try:
        demo = api.network("demo")
        api.network("other")
        assert api.client.get("/v1/network").json()["name"] == "demo"
        assert api.client.post("/v1/route", json={"question": "grafana?"}).status_code == 200
        write = api.client.post("/v1/people", json={"name": "Ada", "external_ids": ["t:ada"]})
        assert write.status_code == 401
        assert (
            api.client.post(
                "/v1/people", json={"name": "Ada", "external_ids": ["t:ada"]}, headers=demo.headers
            ).status_code
            == 201
        )
        # a key, when sent, decides, and a bad one is refused rather than ignored
        other = api.network("other")
        assert api.client.get("/v1/network", headers=other.headers).json()["name"] == "other"
        bad = api.client.get("/v1/network", headers={"X-API-Key": "ak_wrong"})
        assert bad.status_code == 401
    finally:
        api.close()
