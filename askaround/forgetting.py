"""Erasing a person from an edge: the database in the caller's transaction (with what every edge
still holds for them), indexes after it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from askaround import edges
from askaround.wiring import Services
from router.network.erasure import Erasure, erase_person, forget_index_files


def forget_person(
    session: Session, *, services: Services, network_id: int, person_id: int, now: datetime
) -> Erasure:
    """Erase ``person_id`` and end what the edges hold for them (a Slack ``/ask`` still waiting
    would bring them back); once the transaction commits, drop their vectors and index files."""
    erasure = erase_person(session, network_id=network_id, person_id=person_id, now=now)
    if erasure.already:
        return erasure
    edges.forget_identifiers(
        session,
        services=services,
        network_id=network_id,
        identifiers=erasure.identifiers_removed,
        now=now,
    )

    def _rebuild(_session: Session) -> None:
        if "router" in services.__dict__:  # a router built in this process caches the index
            # dropped, not patched: a patched index only masks the erased vectors, a rebuilt
            # one (from the database, on the next route) never holds them
            services.router.indexes.drop(network_id)
        forget_index_files(services.settings.index_dir, network_id=network_id)

    event.listen(session, "after_commit", _rebuild, once=True)
    return erasure
