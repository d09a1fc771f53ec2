"""Askaround's HTTP API v1 (FastAPI): a thin edge over the ``router`` core.

``create_app(services)`` builds the app; every data endpoint is scoped to the network of the API
key that calls it, and core errors come back as ``{"error": code, "detail": reason}``.
"""

from askaround.api.app import create_app

__all__ = ["create_app"]
