"""``askaround worker``: deliver the outbox through the log, a webhook or email, with retries."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from askaround import edges
from askaround.cli.app import app, services
from askaround.cli.shutdown import GracefulStop
from askaround.wiring import Services
from router.delivery.channels import Channel, LogChannel, WebhookChannel
from router.delivery.email import ByEmail, EmailChannel, SmtpConfig
from router.delivery.outbox import DeliveryReport, RetryPolicy, deliver_due, outbox_counts
from router.errors import InvalidInput
from router.routing.adaptation import adapt_due_networks
from router.routing.learned import PRETRAINED, LearnedRanker, pretrained_path


class ChannelKind(StrEnum):
    log = "log"
    webhook = "webhook"
    slack = "slack"
    email = "email"


def _channel(
    kind: ChannelKind | None, log_file: Path | None, url: str | None, svc: Services
) -> Channel:
    """Where messages go; with Slack configured only Slack, so no DM is marked sent unsent."""
    settings = svc.settings
    slack = bool(settings.slack_bot_token or settings.slack_client_id)
    if kind is None:
        kind = ChannelKind.slack if slack else ChannelKind.log
    if kind is ChannelKind.slack:
        if not slack:
            raise InvalidInput(
                "--channel slack needs ASKAROUND_SLACK_BOT_TOKEN (or OAuth settings)"
            )
        found = edges.delivery_channel(svc)
        if found is None:  # pragma: no cover - the Slack edge is always installed with askaround
            raise InvalidInput("no installed edge delivers Slack messages")
        return found
    if kind is ChannelKind.email:  # people with an email address get email; the rest as usual
        others = edges.delivery_channel(svc) if slack else None
        fallback = others or _log(log_file or settings.data_dir / "outbox.jsonl")
        return ByEmail(EmailChannel(SmtpConfig.of(settings)), fallback)
    if slack:
        raise InvalidInput(
            f"Slack is configured: --channel {kind} would mark Slack DMs sent without sending "
            "them; leave --channel out (Slack) or let `askaround bot` deliver"
        )
    if kind is ChannelKind.webhook:
        if not url:
            raise InvalidInput("--channel webhook needs --url")
        return WebhookChannel(url)
    return _log(log_file or settings.data_dir / "outbox.jsonl")


def _log(path: Path) -> LogChannel:
    """The log channel on ``path``; a folder there would fail every message, so refuse it now."""
    if path.is_dir():
        raise InvalidInput(f"--log-file {path} is a folder: name a file to append messages to")
    return LogChannel(path)


def _adapt(svc: Services) -> None:
    """Fine-tune the ranker for every network with enough new answers since the last time."""
    base = LearnedRanker.load(pretrained_path(svc.settings.models_dir), kind=PRETRAINED)
    if base is None or not svc.settings.learned_ranking:
        return
    done = adapt_due_networks(
        svc.database,
        embedder=svc.embedder,
        base=base,
        data_dir=svc.settings.data_dir,
        now=datetime.now(UTC),
    )
    for network_id, result in done.items():
        if result.ranker is not None:
            typer.echo(f"network {network_id}: ranker adapted on {result.questions} questions")


@app.command()
def worker(
    channel: Annotated[
        ChannelKind | None,
        typer.Option(
            "--channel", help="Where messages go (default: Slack when configured, else log)."
        ),
    ] = None,
    log_file: Annotated[Path | None, typer.Option("--log-file", help="For --channel log.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="For --channel webhook.")] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds to wait when nothing is due.")] = 5.0,
    batch: Annotated[int, typer.Option(help="Messages claimed per pass.")] = 50,
    lease: Annotated[
        float,
        typer.Option(
            min=1, help="Seconds a claim lasts; a worker that dies leaves messages this long."
        ),
    ] = 300.0,
    adapt_every: Annotated[
        float,
        typer.Option(
            help="Seconds between checks whether a network's ranker is due for adaptation "
            "(enough new answers); 0 (the default) never adapts: measured leave-one-site-out, "
            "adapting helped 2 of 6 sites and hurt 4 (docs/ranking.md)."
        ),
    ] = 0.0,
) -> None:
    """Deliver the outbox: send due messages, retry failures with backoff, until stopped.

    SIGTERM or SIGINT stops it gracefully: the message being sent is finished and recorded,
    the rest of its batch is handed back at once for another worker.
    """
    svc = services()
    adapted_at = time.monotonic()
    sink = _channel(channel, log_file, url, svc)
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    retry = RetryPolicy(lease=timedelta(seconds=lease))
    total = DeliveryReport()
    with GracefulStop().installed() as stop:
        while not stop.requested():
            report = deliver_due(
                svc.database,
                sink,
                now=datetime.now(UTC),
                worker_id=worker_id,
                batch=batch,
                retry=retry,
                stopping=stop.requested,
            )
            total = DeliveryReport(
                **{key: getattr(total, key) + value for key, value in report.as_dict().items()}
            )
            if report.claimed:
                continue
            if adapt_every > 0 and time.monotonic() - adapted_at >= adapt_every:
                _adapt(svc)
                adapted_at = time.monotonic()
            if once or stop.wait(interval):
                break
    with svc.database.transaction() as session:
        counts = outbox_counts(session)
    stopped = f" (stopped by {stop.signal_name})" if stop.signal_name else ""
    typer.echo(
        f"sent {total.sent}, retrying {total.retrying}, dead {total.dead}; outbox now: "
        + ", ".join(f"{status} {count}" for status, count in counts.items())
        + stopped
    )
