"""The web page's files as the API serves them: open, outside the API's schema, locked down."""

from __future__ import annotations

from tests.api_client import ApiHarness


def test_the_page_and_its_script_load_without_a_key(api: ApiHarness) -> None:
    page = api.client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<title>Askaround</title>" in page.text and '<script src="/app.js">' in page.text
    script = api.client.get("/app.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/v1/route" in script.text and "/v1/summary" in script.text


def test_the_page_may_run_only_its_own_script_and_talk_only_to_this_server(
    api: ApiHarness,
) -> None:
    policy = api.client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "innerHTML" not in api.client.get("/app.js").text  # text nodes only: no markup injection


def test_the_page_is_not_part_of_the_api_schema(api: ApiHarness) -> None:
    paths = api.client.get("/v1/openapi.json").json()["paths"]
    assert "/" not in paths and "/app.js" not in paths
    assert "/v1/route" in paths
