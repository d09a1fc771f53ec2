"""``askaround people erase``: forget a person while keeping everyone else's ledger intact."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from askaround.cli.app import app, services
from askaround.forgetting import forget_person
from router.errors import NotFound
from router.network import people
from router.storage.schema.base import MAX_ID

people_app = typer.Typer(help="People of a network.", no_args_is_help=True)
app.add_typer(people_app, name="people")


@people_app.command("erase")
def erase(
    person: Annotated[
        str, typer.Argument(help="External id (slack:U123, email:a@b.c) or #id of the person.")
    ],
    network: Annotated[str, typer.Option("--network", "-n", help="Network name.")],
) -> None:
    """Forget a person: evidence, vectors, profile and ids go; their favours stay anonymised."""
    svc = services()
    with svc.database.transaction() as session:
        net = people.get_network(session, name=network)
        number = person.lstrip("#")
        if number.isascii() and number.isdigit():  # "²".isdigit() is True
            person_id = int(number)
            if person_id > MAX_ID:
                raise NotFound(f"no person #{number} in this network")
        else:
            person_id = people.get_person(session, network_id=net.id, external_id=person).id
        erasure = forget_person(
            session, services=svc, network_id=net.id, person_id=person_id, now=datetime.now(UTC)
        )
    if erasure.already:
        typer.echo(f"person #{person_id} was already erased; nothing to do")
    else:
        typer.echo(
            f"erased person #{person_id}: {len(erasure.evidence_removed)} evidence rows removed, "
            f"{len(erasure.evidence_rewritten)} rewritten, {erasure.questions} questions and "
            f"{erasure.answers} answers blanked; favours kept as 'a former member'"
        )
