"""The app that `askaround serve` runs: the API, the page, and Slack's HTTP mode when configured."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from askaround.api.app import create_app
from askaround.wiring import Services
from router.search.embedding import HashingEmbedder
from router.settings import Settings
from tests.fake_slack import FakeSlack
from tests.slack_signing import signed_headers
from tests.slack_world import fake_slack, slack_settings

__all__ = ["fake_slack", "slack_settings"]


def test_without_a_signing_secret_there_is_no_slack_endpoint(settings: Settings) -> None:
    app = create_app(Services(settings=settings, embedder_override=HashingEmbedder()))
    with TestClient(app) as client:
        assert client.post("/slack/events", content="{}").status_code == 404
        assert client.get("/v1/health").status_code == 200


def test_serve_mounts_slack_and_checks_every_signature(
    slack_settings: Settings, fake_slack: FakeSlack
) -> None:
    app = create_app(Services(settings=slack_settings, embedder_override=HashingEmbedder()))
    body = json.dumps({"type": "url_verification", "challenge": "c-123"})
    with TestClient(app) as client:
        unsigned = client.post(
            "/slack/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert unsigned.status_code == 401
        signed = client.post(
            "/slack/events",
            content=body,
            headers=signed_headers(body, content_type="application/json"),
        )
        assert signed.status_code == 200 and "c-123" in signed.text
        assert client.get("/v1/health").status_code == 200
