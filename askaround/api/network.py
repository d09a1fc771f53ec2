"""``GET /v1/network``: which network the caller's key acts for, and how big it is."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from askaround.api.dependencies import ReadNetworkDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from router.network import directory
from router.network.people import count_people
from router.storage.schema import Network

router = APIRouter(prefix="/v1", tags=["network"], responses=DATA_ERRORS)


class NetworkOut(BaseModel):
    id: int
    name: str
    people: int
    evidence: int


@router.get("/network", response_model=NetworkOut)
def current_network(network_id: ReadNetworkDep, session: SessionDep) -> NetworkOut:
    """The network this key belongs to (a quick way to check a key)."""
    network = session.get(Network, network_id)
    assert network is not None  # keys are deleted with their network
    return NetworkOut(
        id=network.id,
        name=network.name,
        people=count_people(session, network_id=network_id),
        evidence=directory.count_evidence(session, network_id=network_id),
    )
