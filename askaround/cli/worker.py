"""``askaround worker``: deliver the outbox through the log, a webhook or email, with retries."""

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
from router.delivery.channels import Channel, LogChannel, WebhookChannel
from router.delivery.email import ByEmail, EmailChannel, SmtpConfig
from router.delivery.outbox import DeliveryReport, deliver_due, outbox_counts
from router.errors import InvalidInput
from router.settings import Settings


class ChannelKind(StrEnum):
    log = "log"
    webhook = "webhook"
    email = "email"


def _channel(
    kind: ChannelKind, log_file: Path | None, url: str | None, settings: Settings
) -> Channel:
    if kind is ChannelKind.webhook:
        if not url:
            raise InvalidInput("--channel webhook needs --url")
        return WebhookChannel(url)
    log = LogChannel(log_file or settings.data_dir / "outbox.jsonl")
    if kind is ChannelKind.email:  # people with an email address get email; the rest the log
        return ByEmail(EmailChannel(SmtpConfig.of(settings)), log)
    return log


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
) -> None:
    """Deliver the outbox: send due messages, retry failures with backoff, until stopped."""
    svc = services()
    sink = _channel(channel, log_file, url, svc.settings)
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
