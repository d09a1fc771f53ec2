"""Keeping routing in step with evidence written through the API.

New or edited evidence is embedded inside the request's transaction; the router's cached index
is told to re-read the network only *after* that transaction commits, so a route computed
meanwhile cannot cache a view that misses the change.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.orm import Session

from askaround.wiring import Services
from router.search.backfill import embed_pending


def embed_new_evidence(session: Session, *, services: Services, network_id: int) -> int:
    """Embed the network's evidence that has no vector yet (normally what this request added)."""
    return embed_pending(session, network_id=network_id, embedder=services.embedder)


def refresh_after_commit(
    session: Session,
    *,
    services: Services,
    network_id: int,
    changed_evidence: list[int] | None = None,
) -> None:
    """Once ``session`` commits, make the router re-read the network and ``changed_evidence``."""

    def _refresh(_session: Session) -> None:
        indexes = services.router.indexes
        if changed_evidence:
            indexes.refresh(network_id, changed_evidence)
        indexes.invalidate(network_id)

    event.listen(session, "after_commit", _refresh, once=True)
