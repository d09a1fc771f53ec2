"""The email channel, for people without Slack: asks, answers and the weekly summary by SMTP.

Messages come from the same outbox as every channel (retries with backoff, nothing lost). Each
email's ``Message-ID`` is derived from the outbox idempotency key, so a send retried after a
crash carries the same id and mail clients show it once. An ask carries a signed, expiring link
to a small page served by ``askaround serve`` where the person answers, passes, or says "not
my area" without an account. ``ByEmail`` sends to people with an email address and hands every
other message to a fallback channel.
"""

from __future__ import annotations

import hashlib
import html
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any

from router.delivery.channels import Channel, OutboundMessage
from router.delivery.links import AskLink, sign_ask_link
from router.errors import Unavailable
from router.settings import Settings

SMTP_FAILURES = (smtplib.SMTPException, OSError)


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send, and what links in the emails point at."""

    host: str
    port: int
    tls: str  # starttls | ssl | none
    user: str | None
    password: str | None
    from_address: str
    public_url: str
    link_secret: str | None
    link_ttl: timedelta

    @classmethod
    def of(cls, settings: Settings) -> SmtpConfig:
        if not settings.smtp_host or not settings.smtp_from:
            raise Unavailable("set ASKAROUND_SMTP_HOST and ASKAROUND_SMTP_FROM to send email")
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            tls=settings.smtp_tls,
            user=settings.smtp_user,
            password=settings.smtp_password,
            from_address=settings.smtp_from,
            public_url=settings.public_url.rstrip("/"),
            link_secret=settings.link_secret,
            link_ttl=timedelta(hours=settings.link_ttl_hours),
        )


def email_address(payload: dict[str, Any]) -> str | None:
    """The recipient's address: their email, or an ``email:`` external id."""
    to = payload.get("to") or {}
    if isinstance(to.get("email"), str) and "@" in to["email"]:
        return str(to["email"])
    for value in to.get("external_ids") or []:
        if isinstance(value, str) and value.startswith("email:"):
            return value.removeprefix("email:")
    return None


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _paragraphs(lines: list[str]) -> str:
    return "".join(f"<p>{html.escape(line).replace(chr(10), '<br>')}</p>" for line in lines if line)


def compose(
    message: OutboundMessage, *, config: SmtpConfig, to: str, now: datetime
) -> EmailMessage:
    """The email for one outbox message: headers, a text part and an HTML part."""
    p = message.payload
    name = str((p.get("to") or {}).get("name") or "")
    question = str(p.get("question") or "")
    link: str | None = None
    if message.kind == "ask" and p.get("ask_id") is not None and message.recipient_id:
        token = sign_ask_link(
            secret=config.link_secret,
            link=AskLink(
                network_id=message.network_id,
                ask_id=int(p["ask_id"]),
                person_id=message.recipient_id,
                expires_at=now + config.link_ttl,
            ),
        )
        link = f"{config.public_url}/respond/{token}"
        asker = p.get("asker") or "Someone"
        subject = f"{asker} asks: {_clip(question, 80)}"
        lines = [
            f"Hi {name},",
            f"{asker} has a question you may be able to answer:",
            question,
            f"Why you: {p.get('because') or 'you know about this'}.",
            "Answer, pass, or say it is not your area here (no account needed):",
        ]
    elif message.kind == "answer":
        subject = f"{p.get('answerer') or 'Someone'} answered: {_clip(question, 80)}"
        lines = [
            f"Hi {name},",
            f"{p.get('answerer') or 'Someone'} answered your question",
            question,
            str(p.get("answer") or ""),
        ]
    elif message.kind == "summary":
        subject = f"Your Askaround week {p.get('week') or ''}".strip()
        lines = [str(p.get("text") or "")]
    else:
        subject = f"Askaround: your question {message.kind}" if question else "Askaround"
        lines = [f"Hi {name},", question, str(p.get("text") or p.get("note") or "")]
    text = "\n\n".join(line for line in lines if line)
    body_html = _paragraphs(lines)
    if link is not None:
        text += f"\n\n{link}\n\nThe link works once for each action and expires on " + (
            f"{(now + config.link_ttl):%Y-%m-%d}."
        )
        body_html += (
            f'<p><a href="{html.escape(link)}">Answer or pass</a></p>'
            f"<p><small>The link works once for each action.</small></p>"
        )
    email = EmailMessage()
    email["Subject"] = subject
    email["From"] = config.from_address
    email["To"] = formataddr((name, to)) if name else to
    email["Date"] = formatdate(now.timestamp(), usegmt=True)
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
    domain = config.from_address.rpartition("@")[2] or "askaround.local"
    email["Message-ID"] = f"<{digest}@{domain}>"
    email["X-Askaround-Kind"] = message.kind
    email.set_content(text)
    email.add_alternative(f"<!doctype html><html><body>{body_html}</body></html>", subtype="html")
    return email


class EmailChannel:
    """Sends each message to its recipient's address over SMTP; an SMTP failure is retried."""

    name = "email"

    def __init__(
        self, config: SmtpConfig, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.config = config
        self.clock = clock

    def send(self, message: OutboundMessage) -> dict[str, Any]:
        to = email_address(message.payload)
        if to is None:
            raise Unavailable(f"message {message.id} has no email address to go to")
        email = compose(message, config=self.config, to=to, now=self.clock())
        c = self.config
        try:
            if c.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=30, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=30)
            with smtp:
                if c.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if c.user:
                    smtp.login(c.user, c.password or "")
                refused = smtp.send_message(email)
        except SMTP_FAILURES as exc:
            raise Unavailable(f"SMTP {c.host}:{c.port} failed: {exc}") from exc
        if refused:
            raise Unavailable(f"SMTP refused {', '.join(refused)}")
        return {"channel": self.name, "to": to, "message_id": email["Message-ID"]}


class ByEmail:
    """Email for recipients with an address; every other message goes to ``fallback``."""

    name = "email"

    def __init__(self, email: EmailChannel, fallback: Channel) -> None:
        self.email = email
        self.fallback = fallback

    def send(self, message: OutboundMessage) -> dict[str, Any]:
        if email_address(message.payload) is not None:
            return self.email.send(message)
        return self.fallback.send(message)
