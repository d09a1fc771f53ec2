"""Credit for answers reused: someone's past answer answered a new question, so nobody was asked.

A reuse is a smaller favour (0.5) from the answer's author to the reader, once per reader and
answer; it is not an answer (it does not count as one), and the weekly summary tells authors
how many more people their answers helped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from router.errors import InvalidInput, NotFound
from router.ledger.balances import REUSE_KIND
from router.ledger.favours import record_favour
from router.network.people import get_person_by_id
from router.storage.schema import Evidence, Favour

REUSE_WEIGHT = 0.5


def credit_reuse(
    session: Session, *, network_id: int, evidence_id: int, reader_id: int, now: datetime
) -> Favour | None:
    """Credit the author of past answer ``evidence_id`` for answering ``reader_id``'s question.

    None when the reader wrote it themselves; crediting the same reader twice counts once.
    """
    evidence = session.get(Evidence, evidence_id)
    if evidence is None or evidence.network_id != network_id:
        raise NotFound(f"no past answer #{evidence_id} in this network")
    if evidence.kind != "answer":
        raise InvalidInput(f"evidence #{evidence_id} is not an answer")
    get_person_by_id(session, network_id=network_id, person_id=reader_id)
    if evidence.person_id == reader_id:
        return None
    return record_favour(
        session,
        network_id=network_id,
        giver_id=evidence.person_id,
        taker_id=reader_id,
        kind=REUSE_KIND,
        weight=REUSE_WEIGHT,
        source_key=f"reuse:{reader_id}:{evidence_id}",
        now=now,
    )
