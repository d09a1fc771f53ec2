"""Slack commands on the ``askaround`` CLI, added through askaround's edge hook (``bots.edge``).

askaround bot --socket                  run the bot over Socket Mode (no public URL)
askaround import slack-export FILE.zip  learn from a workspace export
askaround slack sync-members            names, timezones, deactivations from users.list
askaround slack summary-send            queue and send the weekly summaries due now
askaround slack deliver                 send what the outbox holds through Slack now
askaround slack manifest                print the Slack app manifest
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from askaround.edges import CommandHooks
from bots import members, slack_export, workspace
from bots.runtime import SlackBot
from router.errors import InvalidInput
from router.ledger.schedule import describe_run
from router.search.backfill import embed_pending
from router.storage.schema import Network

MANIFEST = Path(__file__).with_name("manifest.yml")


def _only_team(built_bot: SlackBot) -> str:
    """The workspace to act on when none is named: the only one there is."""
    with built_bot.transaction() as session:
        teams = [t for t in session.scalars(select(Network.slack_team_id)) if t]
    if len(teams) != 1:
        raise InvalidInput(
            "name the workspace with --team T…"
            if teams
            else "no Slack workspace yet: name it with --team T…"
        )
    return teams[0]


def register_commands(cli: CommandHooks) -> None:
    """Add the Slack commands to the CLI (called once, through ``askaround.edges``)."""
    app, import_app, services, ProgressBar = cli.app, cli.import_app, cli.services, cli.progress
    slack_app = typer.Typer(
        help="Slack: members, weekly summaries, delivery.", no_args_is_help=True
    )
    app.add_typer(slack_app, name="slack")

    @app.command()
    def bot(
        socket: Annotated[
            bool,
            typer.Option(
                "--socket", help="Connect over Socket Mode (needs ASKAROUND_SLACK_APP_TOKEN)."
            ),
        ] = False,
        interval: Annotated[float, typer.Option(help="Seconds between periodic jobs.")] = 60.0,
    ) -> None:
        """Run the Slack bot. HTTP mode is served by `askaround serve` at /slack/events."""
        if not socket:
            raise InvalidInput(
                "HTTP mode runs inside `askaround serve` (set ASKAROUND_SLACK_SIGNING_SECRET); "
                "use `askaround bot --socket` for Socket Mode"
            )
        from bots.socket import run_socket_mode

        run_socket_mode(services(), interval=interval)

    @import_app.command("slack-export")
    def import_slack_export(
        file: Annotated[
            Path,
            typer.Argument(exists=True, dir_okay=False, help="A Slack workspace export (.zip)."),
        ],
        network: Annotated[
            str | None,
            typer.Option(
                "--network", "-n", help="Network name (default: the workspace's own network)."
            ),
        ] = None,
    ) -> None:
        """Import a Slack export: answered questions become evidence, ties and past favours."""
        now = datetime.now(UTC)
        built = services()
        with ProgressBar() as progress:
            export = slack_export.read_export(file, progress=progress)  # checked before any write
            with built.database.transaction() as session:
                network_id = slack_export.export_network(
                    session, export=export, name=network, now=now
                )
                name = session.get(Network, network_id).name  # type: ignore[union-attr]
                report = slack_export.import_export(
                    session, export=export, network_id=network_id, now=now, progress=progress
                )
            with built.database.transaction() as session:
                embedded = embed_pending(
                    session, network_id=network_id, embedder=built.embedder, progress=progress
                )
        counts = report.as_dict()
        typer.echo(
            f"network {name!r}: {counts['people']} new people, {counts['answers']} answers from "
            f"{counts['questions']} question threads ({counts['already_known']} already known), "
            f"{counts['ties']} ties, {counts['favours']} favours; skipped {counts['skipped_bots']} bot "
            f"and {counts['skipped_system']} system messages; {embedded} embedded"
        )

    @slack_app.command("sync-members")
    def sync_members(
        team: Annotated[
            str | None, typer.Option("--team", help="Slack team id, e.g. T012AB3C4.")
        ] = None,
    ) -> None:
        """Bring names, timezones and deactivations up to date from Slack's member list."""
        built = SlackBot.build(services())
        now = datetime.now(UTC)
        team_id = team or _only_team(built)
        with ProgressBar() as progress:
            listed = members.fetch_members(built.clients.for_team(team_id), progress=progress)
        with built.transaction() as session:
            network = workspace.team_network(session, team_id=team_id, now=now)
            report = members.apply_members(session, network_id=network.id, members=listed, now=now)
        counts = report.as_dict()
        typer.echo(
            f"workspace {team_id}: {counts['members']} members ({counts['created']} new, "
            f"{counts['updated']} updated, {counts['deactivated']} deactivated), "
            f"{counts['skipped_bots']} bots skipped"
            + (
                f", {counts['skipped_invalid']} skipped as unusable (see the log)"
                if counts["skipped_invalid"]
                else ""
            )
        )

    @slack_app.command("summary-send")
    def summary_send() -> None:
        """Queue the weekly summary for everyone whose Monday morning has come, and send it now."""
        built = SlackBot.build(services())
        run = built.enqueue_summaries(datetime.now(UTC))
        delivered = built.courier.deliver()
        typer.echo(
            f"{describe_run(run)}; delivered {delivered.sent}, retrying {delivered.retrying}"
        )

    @slack_app.command("deliver")
    def deliver() -> None:
        """Send everything due in the outbox through Slack now (retries included)."""
        built = SlackBot.build(services())
        released = built.courier.release_dead_workers()
        report = built.courier.deliver()
        typer.echo(
            f"sent {report.sent}, retrying {report.retrying}, dead {report.dead} "
            f"(of {report.claimed} claimed)"
            + (f"; released {released} held by crashed workers" if released else "")
        )
        for held in built.courier.held():
            typer.echo(
                f"held: {held.count} by {held.worker_id} until {held.until:%Y-%m-%d %H:%M} UTC "
                "(that worker sends them, or they are due again then)"
            )

    @slack_app.command("manifest")
    def manifest() -> None:
        """Print the Slack app manifest (paste it at api.slack.com/apps)."""
        typer.echo(MANIFEST.read_text(encoding="utf-8"))
