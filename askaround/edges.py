"""The one hook through which edges (the Slack bot today) add CLI commands and HTTP mounts.

Like ``simonw/llm``'s ``register_commands``: an edge is a module, named in ``EDGES``, that may
define ``register_commands(cli: CommandHooks)``, ``register_mounts(app, services)``,
``delivery_channel(services)`` and ``forget_identifiers(session, ...)`` (an erasure). The
modules are loaded by name, so ``askaround`` never imports an edge and no edge needs to import
the CLI or the HTTP API (import-linter keeps it so; see ``pyproject.toml``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast

import typer
from sqlalchemy.orm import Session

from askaround.wiring import Services
from router.delivery.channels import Channel

if TYPE_CHECKING:
    from fastapi import FastAPI

# Every edge plugin, in registration order.
EDGES: tuple[str, ...] = ("bots.edge",)


@dataclass(frozen=True)
class CommandHooks:
    """What an edge gets to add commands: the Typer app, its groups, and how commands get services."""

    app: typer.Typer
    import_app: typer.Typer
    services: Callable[[], Services]
    progress: Callable[[], Any]  # a context manager that is a ``router.progress.Progress``


def edge_modules() -> list[ModuleType]:
    """The edge plugin modules, imported by name."""
    return [importlib.import_module(name) for name in EDGES]


def register_commands(hooks: CommandHooks) -> None:
    """Let every edge add its commands to the CLI."""
    for module in edge_modules():
        hook = getattr(module, "register_commands", None)
        if hook is not None:
            hook(hooks)


def register_mounts(app: FastAPI, services: Services) -> None:
    """Let every edge mount its routes on the HTTP app (each decides from the settings)."""
    for module in edge_modules():
        hook = getattr(module, "register_mounts", None)
        if hook is not None:
            hook(app, services)


def delivery_channel(services: Services) -> Channel | None:
    """The outbox channel an edge delivers through when it is configured (e.g. Slack DMs)."""
    for module in edge_modules():
        hook = getattr(module, "delivery_channel", None)
        channel = hook(services) if hook is not None else None
        if channel is not None:
            return cast("Channel", channel)
    return None


def forget_identifiers(
    session: Session,
    *,
    services: Services,
    network_id: int,
    identifiers: tuple[str, ...],
    now: datetime,
) -> None:
    """In an erasure's transaction: let every edge end what it still holds for the person known
    by ``identifiers`` (e.g. Slack requests acknowledged and not yet carried out), whichever
    edge erased them."""
    for module in edge_modules():
        hook = getattr(module, "forget_identifiers", None)
        if hook is not None:
            hook(
                session,
                services=services,
                network_id=network_id,
                identifiers=identifiers,
                now=now,
            )
