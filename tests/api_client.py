"""The HTTP API under test: a TestClient over the real database fixture and the hashing embedder.

api = ApiHarness.start(settings, now=now)
acme = api.network("acme")            # a network and a fresh key for it
api.client.get("/v1/people", headers=acme.headers)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi.testclient import TestClient

from askaround.api import create_app
from askaround.wiring import Services
from router.network.keys import create_key
from router.network.people import ensure_network
from router.search.embedding import HashingEmbedder
from router.settings import Settings


@dataclass(frozen=True)
class Tenant:
    """A network as the API sees it: its id and a key that acts for it."""

    name: str
    network_id: int
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class ApiHarness:
    services: Services
    client: TestClient
    now: datetime

    @classmethod
    def start(
        cls, settings: Settings, *, now: datetime, open_network: str | None = None
    ) -> ApiHarness:
        services = Services(settings=settings, embedder_override=HashingEmbedder())
        app = create_app(services, open_network=open_network, clock=lambda: now)
        client = TestClient(app, base_url="http://localhost")  # the Host a local server sees
        return cls(services=services, client=client, now=now)

    def network(self, name: str) -> Tenant:
        """The network called ``name`` (created if missing) with a new API key for it."""
        with self.services.database.transaction() as session:
            network = ensure_network(session, name=name, now=self.now)
            issued = create_key(session, network_id=network.id, now=self.now)
        return Tenant(name=name, network_id=network.id, key=issued.plaintext)

    def close(self) -> None:
        self.client.close()
        self.services.database.dispose()
