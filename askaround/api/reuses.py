"""``POST /v1/reuses``: a past answer answered the question, so its author is credited (0.5)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from askaround.api.dependencies import NetworkDep, NowDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import Body, BodyId, ExternalIdText
from router.ledger.reuse import credit_reuse
from router.network.people import get_person

router = APIRouter(prefix="/v1", tags=["route"], responses=DATA_ERRORS)


class ReuseIn(Body):
    evidence_id: BodyId = Field(description="The past answer that answered it (from `answers`).")
    asker: ExternalIdText = Field(description="Who it answered, by external id.")


class ReuseOut(BaseModel):
    credited: bool = Field(description="False when the asker wrote that answer themselves.")
    giver_id: int | None = None
    weight: float = 0.0


@router.post("/reuses", response_model=ReuseOut, status_code=201)
def reuse(body: ReuseIn, network_id: NetworkDep, session: SessionDep, now: NowDep) -> ReuseOut:
    """ "That answers it": credit the past answer's author; the same asker twice counts once."""
    reader = get_person(session, network_id=network_id, external_id=body.asker)
    favour = credit_reuse(
        session, network_id=network_id, evidence_id=body.evidence_id, reader_id=reader.id, now=now
    )
    if favour is None:
        return ReuseOut(credited=False)
    return ReuseOut(credited=True, giver_id=favour.giver_id, weight=favour.weight)
