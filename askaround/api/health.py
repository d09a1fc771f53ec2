"""``GET /v1/health``, open to all: is the service up and can it reach its database.

It never waits for the embedding model or the indexes: ``serve`` loads those in the background
and reports ``ready`` once they are in memory (routes meanwhile wait for their own network).
"""

from __future__ import annotations

import os

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from askaround.api.dependencies import ServicesDep
from askaround.api.errors import ErrorOut
from router.errors import Unavailable

router = APIRouter(prefix="/v1", tags=["health"])


class HealthOut(BaseModel):
    status: str
    database: str
    ready: bool = False  # the model and every network's index are loaded
    worker: int = 0  # the id of the process that answered (``serve --workers N`` runs several)


@router.get(
    "/health",
    response_model=HealthOut,
    responses={503: {"model": ErrorOut, "description": "The database cannot be reached"}},
)
def health(services: ServicesDep) -> HealthOut:
    """Liveness and database reachability; needs no API key."""
    try:
        with services.database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means the same thing here: not ready
        raise Unavailable("the database cannot be reached") from exc
    return HealthOut(
        status="ok",
        database=services.database.engine.dialect.name,
        ready=services.ready.is_set(),
        worker=os.getpid(),
    )
