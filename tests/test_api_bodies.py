"""Hostile request bodies get the API's error shape and store nothing: repeated JSON keys, JSON
the parser chokes on, a body announced larger than the limit, links and emails no surface can use."""

from __future__ import annotations

from datetime import datetime

import pytest

from router.settings import Settings
from tests.api_client import ApiHarness

JSON = {"Content-Type": "application/json"}


def test_a_json_object_with_a_repeated_key_is_malformed_and_stores_nothing(
    settings: Settings, now: datetime
) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    body = b'{"name": "Ada", "external_ids": ["t:ada"], "name": "Mallory"}'
    response = api.client.post("/v1/people", content=body, headers={**tenant.headers, **JSON})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "malformed_json"
    assert "'name'" in response.json()["detail"]
    found = api.client.get("/v1/people", params={"external_id": "t:ada"}, headers=tenant.headers)
    assert found.json()["items"] == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"question": "\xff\xfe hops"}',  # not UTF-8
        b'{"question": "hops", "k": ' + b"[" * 5000 + b"]" * 5000 + b"}",  # nested too deep
        b'{"question": "hops", "k": ' + b"9" * 5000 + b"}",  # more digits than Python converts
    ],
    ids=["bad-utf8", "deep-nesting", "huge-integer"],
)
def test_json_the_parser_chokes_on_is_malformed_json_not_a_bare_bad_request(
    settings: Settings, now: datetime, body: bytes
) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    response = api.client.post("/v1/route", content=body, headers={**tenant.headers, **JSON})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "malformed_json"


def test_a_body_announced_larger_than_the_limit_gets_the_json_413(
    settings: Settings, now: datetime
) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    body = b'{"question": "' + b"a" * (3 << 20) + b'"}'  # sent with its Content-Length
    response = api.client.post("/v1/route", content=body, headers={**tenant.headers, **JSON})
    assert response.status_code == 413, response.text
    assert response.json()["error"] == "too_large"


@pytest.mark.parametrize(
    "link",
    ["javascript:alert(1)", "https://ok.example/|click here> <!channel", "ftp://files.example/x"],
)
def test_evidence_links_are_http_urls_a_reader_can_follow_safely(
    settings: Settings, now: datetime, link: str
) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    person = api.client.post(
        "/v1/people", json={"name": "Ada", "external_ids": ["t:ada"]}, headers=tenant.headers
    ).json()
    path = f"/v1/people/{person['id']}/evidence"
    refused = api.client.post(
        path, json={"kind": "answer", "text": "use Citra", "link": link}, headers=tenant.headers
    )
    assert refused.status_code == 422, refused.text
    stored = api.client.get(path, headers=tenant.headers).json()["items"]
    assert stored == []
    fine = api.client.post(
        path,
        json={"kind": "answer", "text": "use Citra", "link": "https://forum.example/t/42?a=1"},
        headers=tenant.headers,
    )
    assert fine.status_code == 201, fine.text


@pytest.mark.parametrize("email", ["not an email", "ada@example.org\r\nBcc: all@example.org"])
def test_an_email_the_people_importer_would_refuse_is_refused_by_the_api_too(
    settings: Settings, now: datetime, email: str
) -> None:
    api = ApiHarness.start(settings, now=now)
    tenant = api.network("acme")
    created = api.client.post(
        "/v1/people",
        json={"name": "Ada", "external_ids": ["t:ada"], "email": email},
        headers=tenant.headers,
    )
    assert created.status_code == 422, created.text
    person = api.client.post(
        "/v1/people", json={"name": "Bo", "external_ids": ["t:bo"]}, headers=tenant.headers
    ).json()
    changed = api.client.patch(
        f"/v1/people/{person['id']}", json={"email": email}, headers=tenant.headers
    )
    assert changed.status_code == 422, changed.text
    assert (
        api.client.get(f"/v1/people/{person['id']}", headers=tenant.headers).json()["email"] is None
    )
