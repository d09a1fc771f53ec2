"""Core commands: route a question, run the demo, re-embed a network."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from askaround.cli.app import app, services
from askaround.cli.progress import ProgressBar
from askaround.cli.render import render_route
from router.demo import load_demo
from router.ledger.fairness import fairness_policy
from router.network import people
from router.search.backfill import embed_network


@app.command()
def route(
    question: Annotated[str, typer.Argument(help="The question to route.")],
    network: Annotated[str, typer.Option("--network", "-n", help="Network name.")] = "demo",
    asker: Annotated[str | None, typer.Option("--as", help="External id of the asker.")] = None,
    k: Annotated[int, typer.Option("-k", help="How many people.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show who would be asked and why, without contacting anyone."""
    svc = services()
    now = datetime.now(UTC)
    with svc.database.transaction() as session:
        net = people.get_network(session, name=network)
        asker_person = (
            people.find_person(session, network_id=net.id, external_id=asker) if asker else None
        )
        result = svc.router.route(
            session,
            network_id=net.id,
            question=question,
            asker_id=asker_person.id if asker_person else None,
            k=k,
            now=now,
            policy=fairness_policy(svc.settings),
        )
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
    else:
        typer.echo(render_route(result, asker=asker_person.display_name if asker_person else None))
    svc.router.indexes.save_changed()  # after the answer is out: the next run loads, not rebuilds


@app.command()
def demo() -> None:
    """Load the bundled demo network and route a few questions through it."""
    svc = services()
    now = datetime.now(UTC)
    typer.echo(f"Askaround demo: a small made-up network in {svc.settings.resolved_database_url}")
    started = time.perf_counter()
    with ProgressBar() as bar, svc.database.transaction() as session:
        network_id, questions = load_demo(session, embedder=svc.embedder, now=now, progress=bar)
    typer.echo(
        f"loaded in {time.perf_counter() - started:.1f}s; routing {len(questions)} questions\n"
    )
    for sample in questions:
        with svc.database.transaction() as session:
            result = svc.router.route(
                session,
                network_id=network_id,
                question=sample.text,
                asker_id=sample.asker_id,
                k=3,
                now=now,
            )
        typer.echo(render_route(result, asker=sample.asker_name) + "\n")
    typer.echo('Try your own: ./run route "how do you monitor Kubernetes?" --network demo')


@app.command()
def reembed(
    network: Annotated[str, typer.Option("--network", "-n", help="Network name.")],
) -> None:
    """Embed evidence that has no vector from the configured model (after a model change)."""
    svc = services()
    with svc.database.transaction() as session:
        network_id = people.get_network(session, name=network).id
    with ProgressBar() as bar:
        count = embed_network(
            svc.database, network_id=network_id, embedder=svc.embedder, progress=bar
        )
    typer.echo(f"embedded {count} evidence rows with {svc.embedder.name}")
