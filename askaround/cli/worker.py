"""``askaround worker``: deliver the outbox through the log or a webhook, with retries."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from askaround.cli.app import app, services
from askaround.wiring import Services
from router.delivery.channels import Channel, LogChannel, WebhookChannel
from router.delivery.outbox import DeliveryReport, deliver_due, outbox_counts
from router.errors import InvalidInput
from router.routing.adaptation import adapt_due_networks
from router.routing.learned import PRETRAINED, LearnedRanker, pretrained_path


class ChannelKind(StrEnum):
    log = "log"
    webhook = "webhook"


def _channel(kind: ChannelKind, log_file: Path | None, url: str | None, data_dir: Path) -> Channel:
    if kind is ChannelKind.webhook:
        if not url:
            raise InvalidInput("--channel webhook needs --url")
        return WebhookChannel(url)
    return LogChannel(log_file or data_dir / "outbox.jsonl")


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
        ChannelKind, typer.Option("--channel", help="Where messages go.")
    ] = ChannelKind.log,
    log_file: Annotated[Path | None, typer.Option("--log-file", help="For --channel log.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="For --channel webhook.")] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due now, then exit.")
    ] = False,
    interval: Annotated[float, typer.Option(help="Seconds to wait when nothing is due.")] = 5.0,
    batch: Annotated[int, typer.Option(help="Messages claimed per pass.")] = 50,
    adapt_every: Annotated[
        float,
        typer.Option(
            help="Seconds between checks whether a network's ranker is due for adaptation "
            "(enough new answers); 0 (the default) never adapts: measured leave-one-site-out, "
            "adapting helped 2 of 6 sites and hurt 4 (docs/ranking.md)."
        ),
    ] = 0.0,
) -> None:
    """Deliver the outbox: send due messages, retry failures with backoff, until stopped."""
    svc = services()
    adapted_at = time.monotonic()
    sink = _channel(channel, log_file, url, svc.settings.data_dir)
    worker_id = f"{socket.gethostname()}:{os.getpid()}"
    total = DeliveryReport()
    try:
        while True:
            report = deliver_due(
                svc.database, sink, now=datetime.now(UTC), worker_id=worker_id, batch=batch
            )
            total = DeliveryReport(
                **{key: getattr(total, key) + value for key, value in report.as_dict().items()}
            )
            if report.claimed:
                continue
            if adapt_every > 0 and time.monotonic() - adapted_at >= adapt_every:
                _adapt(svc)
                adapted_at = time.monotonic()
            if once:
                break
            time.sleep(interval)
    except KeyboardInterrupt:
        pass
    with svc.database.transaction() as session:
        counts = outbox_counts(session)
    typer.echo(
        f"sent {total.sent}, retrying {total.retrying}, dead {total.dead}; outbox now: "
        + ", ".join(f"{status} {count}" for status, count in counts.items())
    )
