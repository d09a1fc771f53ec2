"""Evidence (what people know): per person or for the whole network; create, edit, delete.

Writes keep routing current: new text is embedded in the same transaction, and the router's
index is refreshed once it commits (``askaround.api.indexing``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from sqlalchemy.orm import Session

from askaround.api.dependencies import (
    NetworkDep,
    NowDep,
    ReadNetworkDep,
    ServicesDep,
    SessionDep,
)
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import (
    Body,
    Id,
    Link,
    LongText,
    OptionalLongText,
    PlainDigits,
    Source,
    SourceKey,
    UtcDateTime,
)
from askaround.api.indexing import embed_new_evidence, refresh_after_commit
from askaround.api.pages import Cursor, Limit, Page, after_id, page_of
from router.errors import InvalidInput
from router.network import directory
from router.network.people import delete_evidence, get_person_by_id
from router.network.views import EvidenceView, evidence_view
from router.storage.schema.base import MAX_ID

router = APIRouter(tags=["evidence"], responses=DATA_ERRORS)

Kind = Literal["answer", "interest", "profile"]


class EvidenceIn(Body):
    kind: Kind
    text: LongText
    context: OptionalLongText = ""
    source: Source = "api"
    link: Link | None = None
    created_at: UtcDateTime | None = None
    source_key: SourceKey | None = None


class EvidencePatch(Body):
    """Only the fields sent change; new text or context is embedded again."""

    kind: Kind | None = None
    text: LongText | None = None
    context: OptionalLongText | None = None
    link: Link | None = None
    created_at: UtcDateTime | None = None

    def changes(self) -> dict[str, Any]:
        sent = {name: getattr(self, name) for name in self.model_fields_set}
        for name in ("kind", "text", "context", "created_at"):
            if name in sent and sent[name] is None:
                raise InvalidInput(f"{name} cannot be null")
        return sent


def _page(
    session: Session, *, network_id: int, person_id: int | None, limit: int, cursor: str | None
) -> Page[EvidenceView]:
    rows = directory.list_evidence(
        session, network_id=network_id, person_id=person_id, after_id=after_id(cursor), limit=limit
    )
    return page_of(rows, limit=limit, row_id=lambda row: row.id, render=evidence_view)


@router.get("/v1/evidence", response_model=Page[EvidenceView])
def list_evidence(
    network_id: ReadNetworkDep,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
    person_id: Annotated[
        int | None,
        PlainDigits,
        Query(ge=1, le=MAX_ID, description="Only this person's evidence."),
    ] = None,
) -> Page[EvidenceView]:
    """The network's evidence, oldest first, a page at a time."""
    return _page(session, network_id=network_id, person_id=person_id, limit=limit, cursor=cursor)


@router.get("/v1/people/{person_id}/evidence", response_model=Page[EvidenceView])
def list_person_evidence(
    person_id: Id,
    network_id: ReadNetworkDep,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[EvidenceView]:
    """One person's evidence, oldest first, a page at a time."""
    get_person_by_id(session, network_id=network_id, person_id=person_id)
    return _page(session, network_id=network_id, person_id=person_id, limit=limit, cursor=cursor)


@router.post("/v1/people/{person_id}/evidence", response_model=EvidenceView, status_code=201)
def create_evidence(
    person_id: Id,
    body: EvidenceIn,
    network_id: NetworkDep,
    session: SessionDep,
    services: ServicesDep,
    now: NowDep,
) -> EvidenceView:
    """Record something a person knows; routing can find it as soon as this returns."""
    evidence = directory.create_evidence(
        session,
        network_id=network_id,
        person_id=person_id,
        kind=body.kind,
        text=body.text,
        context=body.context,
        source=body.source,
        link=body.link,
        source_key=body.source_key,
        created_at=body.created_at or now,
        now=now,
    )
    embed_new_evidence(session, services=services, network_id=network_id)
    refresh_after_commit(session, services=services, network_id=network_id)
    session.refresh(evidence)
    return evidence_view(evidence)


@router.get("/v1/evidence/{evidence_id}", response_model=EvidenceView)
def get_evidence(evidence_id: Id, network_id: ReadNetworkDep, session: SessionDep) -> EvidenceView:
    """One piece of evidence."""
    return evidence_view(
        directory.get_evidence(session, network_id=network_id, evidence_id=evidence_id)
    )


@router.patch("/v1/evidence/{evidence_id}", response_model=EvidenceView)
def update_evidence(
    evidence_id: Id,
    body: EvidencePatch,
    network_id: NetworkDep,
    session: SessionDep,
    services: ServicesDep,
    now: NowDep,
) -> EvidenceView:
    """Edit a piece of evidence; routing sees the new text as soon as this returns."""
    evidence = directory.update_evidence(
        session, network_id=network_id, evidence_id=evidence_id, now=now, **body.changes()
    )
    embed_new_evidence(session, services=services, network_id=network_id)
    refresh_after_commit(
        session, services=services, network_id=network_id, changed_evidence=[evidence_id]
    )
    session.refresh(evidence)
    return evidence_view(evidence)


@router.delete("/v1/evidence/{evidence_id}", status_code=204, response_class=Response)
def remove_evidence(
    evidence_id: Id, network_id: NetworkDep, session: SessionDep, services: ServicesDep
) -> Response:
    """Delete a piece of evidence; routing stops using it as soon as this returns."""
    delete_evidence(session, network_id=network_id, evidence_id=evidence_id)
    refresh_after_commit(session, services=services, network_id=network_id)
    return Response(status_code=204)
