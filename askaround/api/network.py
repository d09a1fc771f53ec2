"""``GET /v1/network``: which network the caller's key acts for, and how big it is."""

from __future__ import annotations

from fastapi import APIRouter

from askaround.api.dependencies import ReadNetworkDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from router.network.views import NetworkView, network_view

router = APIRouter(prefix="/v1", tags=["network"], responses=DATA_ERRORS)


@router.get("/network", response_model=NetworkView)
def current_network(network_id: ReadNetworkDep, session: SessionDep) -> NetworkView:
    """The network this key belongs to (a quick way to check a key)."""
    return network_view(session, network_id=network_id)
