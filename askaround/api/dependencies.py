"""What endpoints receive, as ``Annotated`` aliases: services, a session, the time, the network.

A request's session is one transaction: it commits when the endpoint returns and rolls back
entirely when it raises, before the response is sent (``scope="function"``), so a client never
sees a success for work that was not stored.

Which network a request acts for comes from its API key (``Authorization: Bearer <key>`` or
``X-API-Key: <key>``; both at once only when they are the same key). A server started for local
development with ``open_network`` also answers *read* requests that carry no key, for that
network only; a key, when sent, always decides, and writes always need one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from askaround.wiring import Services
from router.errors import PermissionDenied, Unauthenticated
from router.network.keys import authenticate
from router.network.people import get_network

Clock = Callable[[], datetime]

bearer = HTTPBearer(
    auto_error=False, scheme_name="bearer", description="An API key: `Authorization: Bearer <key>`."
)
api_key_header = APIKeyHeader(
    name="X-API-Key", auto_error=False, scheme_name="apiKey", description="An API key."
)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def open_session(services: ServicesDep) -> Iterator[Session]:
    """One transaction per request: committed if the endpoint returns, rolled back if it raises."""
    with services.database.transaction() as session:
        yield session


SessionDep = Annotated[Session, Depends(open_session, scope="function")]


def current_time(request: Request) -> datetime:
    """The request's ``now``, read once from the app's clock and passed to the core."""
    clock: Clock = request.app.state.clock
    return clock()


NowDep = Annotated[datetime, Depends(current_time)]


TWO_KEYS = (
    "the request carries two different API keys, one in 'Authorization: Bearer' and one in "
    "'X-API-Key'; send one key (or the same key in both)"
)


def _presented_key(
    credentials: HTTPAuthorizationCredentials | None, header_key: str | None
) -> str | None:
    """The one key the request presents; Unauthenticated when its two headers name different
    keys (picking either would act for a network the client may not have meant)."""
    bearer_key = credentials.credentials if credentials is not None else ""
    if bearer_key and header_key and bearer_key != header_key:
        raise Unauthenticated(TWO_KEYS)
    return bearer_key or header_key or None


NO_KEY = "this endpoint needs an API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'"


LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def check_local_host(request: Request) -> None:
    """Keyless reads answer only requests addressed to a loopback name: a page on another site
    that re-points its own name at 127.0.0.1 (DNS rebinding) sends its own name as ``Host``."""
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if name.lower() not in LOCAL_HOSTS:
        raise PermissionDenied(
            f"keyless reads are served to localhost only, not to Host {host[:100]!r}; "
            "send an API key"
        )


def network_for_writing(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
) -> int:
    """The id of the network the request's API key belongs to; 401 without a valid key."""
    key = _presented_key(credentials, header_key)
    if key is None:
        raise Unauthenticated(NO_KEY)
    return authenticate(session, plaintext=key)


def network_for_reading(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    header_key: Annotated[str | None, Depends(api_key_header)],
) -> int:
    """Like ``network_for_writing``, but a keyless request reads the open network, if any."""
    key = _presented_key(credentials, header_key)
    open_network: str | None = request.app.state.open_network
    if key is None and open_network is not None:
        check_local_host(request)
        return get_network(session, name=open_network).id
    if key is None:
        raise Unauthenticated(NO_KEY)
    return authenticate(session, plaintext=key)


NetworkDep = Annotated[int, Depends(network_for_writing)]
ReadNetworkDep = Annotated[int, Depends(network_for_reading)]
