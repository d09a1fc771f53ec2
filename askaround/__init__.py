"""Askaround's edges: wiring from settings, the CLI and the HTTP API. The core lives in ``router``."""
