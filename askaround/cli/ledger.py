"""``askaround ledger`` and ``askaround summary``: who gave, who took, who owes whom, by week."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from askaround.cli.app import app, services
from router.errors import InvalidInput
from router.ledger.favours import network_totals
from router.ledger.privacy import visible_ledger, visible_pair_balance
from router.ledger.schedule import describe_run, enqueue_due_summaries
from router.ledger.summary import build_weekly_summary
from router.ledger.summary_text import render_network_summary, render_person_summary
from router.ledger.weeks import moment_in_week
from router.lifecycle.views import names_of
from router.network import people

NetworkOption = Annotated[str, typer.Option("--network", "-n", help="Network name.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _answers(count: int) -> str:
    return f"{count} answer{'' if count == 1 else 's'}"


def _ids(session: Session, network: str, person: str | None) -> tuple[int, int | None]:
    """The network's id and, if named, the person's id in it (NotFound otherwise)."""
    network_id = people.get_network(session, name=network).id
    if person is None:
        return network_id, None
    return network_id, people.get_person(session, network_id=network_id, external_id=person).id


def _date(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a date like 2026-11-23, not {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command()
def ledger(
    network: NetworkOption,
    person: Annotated[str | None, typer.Option("--person", help="One person's page.")] = None,
    other: Annotated[str | None, typer.Option("--with", help="With --person: one pair.")] = None,
    since: Annotated[str | None, typer.Option(help="From this date (UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this date (UTC).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Favours given and received: the network, one person, or one pair (who owes whom)."""
    start, end = _date(since, "--since"), _date(until, "--until")
    if other is not None and person is None:
        raise InvalidInput("--with needs --person")
    with services().database.transaction() as session:
        network_id, person_id = _ids(session, network, person)
        if person_id is not None and other is not None:
            _, other_id = _ids(session, network, other)
            assert other_id is not None
            pair = visible_pair_balance(
                session,
                network_id=network_id,
                person_id=person_id,
                other_id=other_id,
                since=start,
                until=end,
            )
            names = names_of(session, [person_id, other_id])
            if as_json:
                _echo_json(pair.as_dict())
                return
            owes = (
                "even"
                if pair.debtor_id is None
                else f"{names[pair.debtor_id]} owes {abs(pair.net):g}"
            )
            typer.echo(
                f"{names[person_id]} gave {pair.gave:g} ({_answers(pair.gave_count)}), "
                f"{names[other_id]} gave {pair.got:g} ({_answers(pair.got_count)}): {owes}"
            )
            return
        if person_id is not None:
            page = visible_ledger(
                session, network_id=network_id, person_id=person_id, since=start, until=end
            )
            if as_json:
                _echo_json(page.as_dict())
                return
            t = page.totals
            typer.echo(
                f"{page.name}: gave {t.given:g} ({_answers(t.given_count)}), "
                f"received {t.received:g} ({_answers(t.received_count)})"
            )
            for debt in page.owes:
                typer.echo(f"  owes {debt.name} {debt.net:g}")
            for debt in page.owed_by:
                typer.echo(f"  is owed {debt.net:g} by {debt.name}")
            return
        totals = network_totals(session, network_id=network_id, since=start, until=end)
        names = names_of(session, totals)
    if as_json:
        _echo_json({str(pid): t.as_dict() | {"name": names.get(pid)} for pid, t in totals.items()})
        return
    typer.echo(f"{'person':<30} {'given':>8} {'received':>9} {'balance':>8}")
    for pid, t in sorted(
        totals.items(), key=lambda item: (-item[1].balance, names.get(item[0], ""))
    ):
        typer.echo(f"{names.get(pid, pid)!s:<30} {t.given:>8g} {t.received:>9g} {t.balance:>8g}")


summary_app = typer.Typer(
    help="The weekly favours summary: show it, or send it to everyone with news.",
    invoke_without_command=True,
)
app.add_typer(summary_app, name="summary")


@summary_app.callback()
def summary(
    context: typer.Context,
    network: Annotated[str | None, typer.Option("--network", "-n", help="Network name.")] = None,
    week: Annotated[str | None, typer.Option("--week", help="ISO week, e.g. 2026-W48.")] = None,
    person: Annotated[str | None, typer.Option("--person", help="One person's summary.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The weekly favours summary (this week so far, or --week), for the network or one person."""
    if context.invoked_subcommand is not None:
        return
    if network is None:
        raise InvalidInput("--network is required")
    now = datetime.now(UTC)
    as_of = moment_in_week(week, now=now) if week else now
    with services().database.transaction() as session:
        network_id, person_id = _ids(session, network, person)
        result = build_weekly_summary(session, network_id=network_id, now=as_of)
    if person_id is not None:
        mine = result.person(person_id)
        typer.echo(
            json.dumps(mine.as_dict(), indent=2)
            if as_json
            else render_person_summary(mine, now=as_of)
        )
    else:
        typer.echo(
            json.dumps(result.as_dict(), indent=2) if as_json else render_network_summary(result)
        )


@summary_app.command("send")
def send(
    network: NetworkOption,
    week: Annotated[
        str | None,
        typer.Option("--week", help="ISO week; default: each person's week that just ended."),
    ] = None,
) -> None:
    """Queue the weekly summary for everyone with news, once per person and week.

    Without --week, each person gets the week whose Monday 09:00 (their timezone) has passed
    most recently; `askaround worker` or the Slack bot delivers what is queued.
    """
    built = services()
    now = datetime.now(UTC)
    with built.database.transaction() as session:
        network_id, _ = _ids(session, network, None)
        run = enqueue_due_summaries(session, network_id=network_id, now=now, week=week)
    line = describe_run(run, week=week)
    if run.enqueued:
        line += "; `askaround worker` (or the Slack bot) delivers them"
    typer.echo(line)
