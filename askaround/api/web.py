"""The web page at ``/``: ask who would answer a question, and why; read the network's week.

One static HTML file and one script, no build step and nothing loaded from elsewhere, so it works
on a machine with no internet. The page calls the same ``/v1`` endpoints as any client: with the
key a person pastes (kept in the tab's ``sessionStorage`` only), or with none when
``askaround serve --network N`` opened a network for local reading.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Response

from router.errors import Unavailable

router = APIRouter(include_in_schema=False)

# The page runs only its own script and talks only to this server; the one inline block is CSS.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
        "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _static(name: str) -> bytes:
    try:
        return (resources.files("askaround.api") / "static" / name).read_bytes()
    except FileNotFoundError as exc:  # an install that left out the package data
        raise Unavailable(f"the web page's {name} was not installed with askaround") from exc


@router.get("/")
def page() -> Response:
    """The page itself; it needs no key to load."""
    return Response(
        _static("index.html"), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/app.js")
def script() -> Response:
    """The page's script (separate from the HTML so the policy can forbid inline scripts)."""
    return Response(
        _static("app.js"), media_type="text/javascript; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/network")
def network_page() -> Response:
    """The network page for the key holder: the give/take graph, experts, load over time."""
    return Response(
        _static("network.html"), media_type="text/html; charset=utf-8", headers=SECURITY_HEADERS
    )


@router.get("/network.js")
def network_script() -> Response:
    """The network page's script: draws the graph and the chart as inline SVG, no library."""
    return Response(
        _static("network.js"), media_type="text/javascript; charset=utf-8", headers=SECURITY_HEADERS
    )
