"""The question loop from a terminal: ask, answer, pass, decline, helpful, close; ledger, summary;
the outbox worker and the lifecycle tick.

People are named by external id (``--as slack:U123``, ``--as se:42``) in a network
(``--network``). Each command is one transaction; core errors become one line on stderr.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer
from sqlalchemy.orm import Session

from askaround.cli.app import app, services
from askaround.cli.numbers import plain_id
from askaround.cli.render import render_route
from router.errors import InvalidInput
from router.lifecycle.questions import (
    answer_ask,
    ask_question,
    close_question,
    decline_ask,
    get_question,
    mark_helpful,
    pass_ask,
    pending_asks,
    question_history,
    snooze_person,
    thank_answer,
    tick,
)
from router.lifecycle.views import QuestionHistory
from router.network import people
from router.network.availability import MAX_SNOOZE
from router.search.change_log import prune_changes

NetworkOption = Annotated[str, typer.Option("--network", "-n", help="Network name.")]
PersonOption = Annotated[str, typer.Option("--as", help="Your external id, e.g. slack:U123.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _now() -> datetime:
    return datetime.now(UTC)


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _ids(session: Session, network: str, person: str | None = None) -> tuple[int, int | None]:
    """The network's id and, if named, the person's id in it (NotFound otherwise)."""
    network_id = people.get_network(session, name=network).id
    if person is None:
        return network_id, None
    return network_id, people.get_person(session, network_id=network_id, external_id=person).id


@contextmanager
def _acting(network: str, person: str) -> Iterator[tuple[Session, int, int]]:
    """One transaction on behalf of a person of the network, both named on the command line."""
    with services().database.transaction() as session:
        network_id, person_id = _ids(session, network, person)
        assert person_id is not None
        yield session, network_id, person_id


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    network: NetworkOption,
    asker: PersonOption,
    k: Annotated[int | None, typer.Option("-k", help="How many people to ask.")] = None,
    anonymous: Annotated[bool, typer.Option("--anonymous", help="Hide who asks.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Ask a question: route it and ask the best people (delivered by `askaround worker`)."""
    svc = services()
    with svc.database.transaction() as session:
        network_id, asker_id = _ids(session, network, asker)
        assert asker_id is not None
        asked = ask_question(
            session,
            router=svc.router,
            settings=svc.settings,
            network_id=network_id,
            asker_id=asker_id,
            text=question,
            now=_now(),
            k=k,
            anonymous=anonymous,
        )
    if as_json:
        _echo_json(asked.as_dict())
        return
    typer.echo(
        f"question #{asked.question.id}, open until {asked.question.expires_at:%Y-%m-%d %H:%M} UTC"
    )
    typer.echo(render_route(asked.route, asker=asked.question.asker_name))
    for ask_view in asked.question.asks:
        typer.echo(f"  ask #{ask_view.id} -> {ask_view.person_name}")


@app.command()
def answer(
    ask_id: Annotated[
        int, typer.Argument(help="The ask you were sent.", parser=plain_id, metavar="ID")
    ],
    text: Annotated[str, typer.Argument(help="Your answer.")],
    network: NetworkOption,
    person: PersonOption,
) -> None:
    """Answer an ask; the answer goes to the asker and counts as a favour."""
    with _acting(network, person) as (session, network_id, person_id):
        view = answer_ask(
            session,
            network_id=network_id,
            ask_id=ask_id,
            person_id=person_id,
            text=text,
            now=_now(),
            refuse_other_text=True,  # a changed text would be dropped without a word
        )
    typer.echo(f"answer #{view.id} to question #{view.question_id} recorded")


@app.command(name="pass")
def pass_(
    ask_id: Annotated[
        int, typer.Argument(help="The ask to pass on.", parser=plain_id, metavar="ID")
    ],
    network: NetworkOption,
    person: PersonOption,
) -> None:
    """Not now: pass an ask on (others may be asked instead)."""
    with _acting(network, person) as (session, network_id, person_id):
        view = pass_ask(
            session, network_id=network_id, ask_id=ask_id, person_id=person_id, now=_now()
        )
    typer.echo(f"ask #{view.id} {view.status}")


@app.command()
def decline(
    ask_id: Annotated[
        int, typer.Argument(help="The ask to decline.", parser=plain_id, metavar="ID")
    ],
    network: NetworkOption,
    person: PersonOption,
) -> None:
    """Not my area: decline an ask; the evidence that matched it counts less from now on."""
    with _acting(network, person) as (session, network_id, person_id):
        view = decline_ask(
            session, network_id=network_id, ask_id=ask_id, person_id=person_id, now=_now()
        )
    typer.echo(f"ask #{view.id} {view.status}")


@app.command()
def snooze(
    network: NetworkOption,
    person: PersonOption,
    days: Annotated[float, typer.Option("--days", help="How long, in days.")] = 7.0,
    ask_id: Annotated[
        int | None, typer.Option("--ask", help="Also pass this ask.", parser=plain_id, metavar="ID")
    ] = None,
) -> None:
    """Get no questions for a while (and optionally pass one ask)."""
    if not 0 < days <= MAX_SNOOZE.days:  # also nan and inf, which no timedelta can hold
        raise InvalidInput(f"a snooze ends in the future, at most {MAX_SNOOZE.days} days ahead")
    now = _now()
    with _acting(network, person) as (session, network_id, person_id):
        until = snooze_person(
            session,
            network_id=network_id,
            person_id=person_id,
            until=now + timedelta(days=days),
            now=now,
            ask_id=ask_id,
        )
    typer.echo(f"snoozed until {until:%Y-%m-%d %H:%M} UTC")


@app.command()
def helpful(
    answer_id: Annotated[
        int, typer.Argument(help="The answer you found helpful.", parser=plain_id, metavar="ID")
    ],
    network: NetworkOption,
    person: PersonOption,
) -> None:
    """Mark an answer to your question helpful (a favour more for its author)."""
    with _acting(network, person) as (session, network_id, person_id):
        view = mark_helpful(
            session, network_id=network_id, answer_id=answer_id, person_id=person_id, now=_now()
        )
    typer.echo(f"answer #{view.id} by {view.person_name} marked helpful")


@app.command()
def thank(
    answer_id: Annotated[
        int,
        typer.Argument(help="The answer to thank its author for.", parser=plain_id, metavar="ID"),
    ],
    network: NetworkOption,
    person: PersonOption,
) -> None:
    """Thank the author of an answer to your question."""
    with _acting(network, person) as (session, network_id, person_id):
        view = thank_answer(
            session, network_id=network_id, answer_id=answer_id, person_id=person_id, now=_now()
        )
    typer.echo(f"thanked {view.person_name} for answer #{view.id}")


@app.command()
def close(
    question_id: Annotated[
        int, typer.Argument(help="Your question.", parser=plain_id, metavar="ID")
    ],
    network: NetworkOption,
    person: PersonOption,
) -> None:
    """Close your question; people still asked are told it no longer needs them."""
    with _acting(network, person) as (session, network_id, person_id):
        view = close_question(
            session,
            network_id=network_id,
            question_id=question_id,
            person_id=person_id,
            now=_now(),
        )
    typer.echo(f"question #{view.id} {view.status}")


def _render_history(history: QuestionHistory) -> str:
    q = history.question
    lines = [f'#{q.id} "{q.text}" by {q.asker_name}: {q.status}, round {q.round}']
    for event in history.events:
        who = f" {event.actor_name}" if event.actor_name else ""
        detail = ", ".join(f"{k}={v}" for k, v in event.detail.items() if v not in (None, [], {}))
        lines.append(
            f"  {event.at:%Y-%m-%d %H:%M}  {event.kind}{who}" + (f"  ({detail})" if detail else "")
        )
    for a in q.answers:
        flags = "".join([" [helpful]" if a.helpful else "", " [thanked]" if a.thanked else ""])
        lines.append(f"  answer #{a.id} by {a.person_name}{flags}: {a.text}")
    return "\n".join(lines)


@app.command()
def history(
    question_id: Annotated[
        int, typer.Argument(help="The question.", parser=plain_id, metavar="ID")
    ],
    network: NetworkOption,
    as_json: JsonOption = False,
) -> None:
    """A question, its answers and every state change it went through."""
    with services().database.transaction() as session:
        network_id, _ = _ids(session, network)
        result = question_history(session, network_id=network_id, question_id=question_id)
    typer.echo(json.dumps(result.as_dict(), indent=2) if as_json else _render_history(result))


@app.command()
def inbox(network: NetworkOption, person: PersonOption, as_json: JsonOption = False) -> None:
    """The asks still waiting on you."""
    with _acting(network, person) as (session, network_id, person_id):
        waiting = pending_asks(session, network_id=network_id, person_id=person_id)
        texts = {
            w.question_id: get_question(
                session, network_id=network_id, question_id=w.question_id
            ).text
            for w in waiting
        }
    if as_json:
        _echo_json([w.as_dict() | {"question": texts[w.question_id]} for w in waiting])
        return
    if not waiting:
        typer.echo("nothing is waiting on you")
    for w in waiting:
        typer.echo(f'ask #{w.id}  question #{w.question_id} "{texts[w.question_id]}"')


@app.command(name="tick")
def tick_(
    network: Annotated[
        str | None, typer.Option("--network", "-n", help="Only this network.")
    ] = None,
) -> None:
    """Escalate questions nobody answered in time and expire old ones, then prune the evidence
    change log (run every few minutes)."""
    svc = services()
    with svc.database.transaction() as session:
        network_id = people.get_network(session, name=network).id if network else None
        report = tick(
            session, router=svc.router, settings=svc.settings, now=_now(), network_id=network_id
        )
    with svc.database.transaction() as session:
        pruned = prune_changes(session, keep=svc.settings.change_log_keep)
    typer.echo(
        f"escalated {len(report.escalated)} questions ({report.asks_sent} new asks), "
        f"expired {len(report.expired)}"
        + (f", pruned {pruned} change-log entries" if pruned else "")
    )
