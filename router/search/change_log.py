"""The evidence change log every search index follows: its newest entry, and pruning old ones.

Database triggers append an entry per evidence insert, edit or delete (migration 0004), so the log
grows with every import and re-embedding. ``prune_changes`` keeps each network's newest ``keep``
entries and records how far it pruned (``EvidenceChangeHorizon``); an index whose cursor is behind
that horizon has missed changes it can no longer read, so ``IndexCache`` rebuilds it from the
evidence rows instead of catching up entry by entry.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from router.storage.schema import EvidenceChange, EvidenceChangeHorizon

# The key the change-log triggers lock on PostgreSQL (migration 0004): one writer per network.
ADVISORY_CLASS = 4710


def latest_change(session: Session, network_id: int) -> int:
    """The newest change-log seq of a network (0 when it has none)."""
    seq = session.scalar(
        select(func.max(EvidenceChange.seq)).where(EvidenceChange.network_id == network_id)
    )
    return int(seq or 0)


def pruned_through(session: Session, network_id: int) -> int:
    """The newest seq pruned from the network's log (0 when nothing was): a cursor below it has
    missed changes."""
    return int(
        session.scalar(
            select(EvidenceChangeHorizon.pruned_through).where(
                EvidenceChangeHorizon.network_id == network_id
            )
        )
        or 0
    )


def prune_changes(session: Session, *, keep: int) -> int:
    """Delete all but each network's newest ``keep`` change-log entries; returns how many went."""
    if keep < 1:
        raise ValueError("keep at least one change per network")
    networks = session.scalars(select(EvidenceChange.network_id).distinct()).all()
    deleted = 0
    for network_id in networks:
        if session.get_bind().dialect.name == "postgresql":
            # Writers of this network's evidence finish first, so no uncommitted entry sits
            # below the horizon (the triggers take the same lock).
            session.execute(
                text(
                    "SELECT pg_advisory_xact_lock(CAST(:key AS integer), CAST(:network AS integer))"
                ),
                {"key": ADVISORY_CLASS, "network": network_id},
            )
        horizon = session.scalar(
            select(EvidenceChange.seq)
            .where(EvidenceChange.network_id == network_id)
            .order_by(EvidenceChange.seq.desc())
            .offset(keep)
            .limit(1)
        )
        if horizon is None:
            continue
        result = session.execute(
            delete(EvidenceChange).where(
                EvidenceChange.network_id == network_id, EvidenceChange.seq <= horizon
            )
        )
        deleted += int(result.rowcount)  # type: ignore[attr-defined]
        mark = session.get(EvidenceChangeHorizon, network_id)
        if mark is None:
            session.add(EvidenceChangeHorizon(network_id=network_id, pruned_through=horizon))
        else:
            mark.pruned_through = max(mark.pruned_through, horizon)
    session.flush()
    return deleted
