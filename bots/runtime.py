"""What every listener shares: services, Slack clients, the outbox courier and the clock.

One ``SlackBot`` per process, built from one ``Services`` by ``SlackBot.build``; listeners get
it as an argument of their ``register`` (no globals). It also turns a Slack member into the
core's person, creating them on first contact with their name and timezone from ``users.info``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from slack_sdk.oauth.installation_store import InstallationStore
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from askaround.wiring import Services
from bots import install, workspace
from bots.channel import SlackChannel
from bots.clients import SLACK_FAILURES, SlackClients
from bots.courier import Courier, Job
from bots.inbox import REPLAY_HANDLERS, SPOOL, Inbox
from router.ledger.schedule import SummaryRun, enqueue_due_summaries
from router.lifecycle import hours, questions
from router.search.change_log import prune_changes
from router.settings import Settings
from router.storage.database import Database
from router.storage.idempotency import insert_once
from router.storage.schema import InboundRequest, Network, SeenEvent

log = logging.getLogger(__name__)

SEEN_EVENTS_KEPT = timedelta(days=2)  # Slack retries an event for about an hour at most
ROUTING_THREADS = 2  # routing is CPU-bound; more threads than cores only queue differently
LISTENER_THREADS = 16  # acks and short listener work
LOOKUP_THREADS = 2  # past-answer lookups an ack waits for, within a budget (bots.reuse)


def utc_now() -> datetime:
    return datetime.now(UTC)


def slack_channel(services: Services) -> SlackChannel:
    """The outbox's Slack channel on its own (for ``askaround worker``), tokens as the bot has."""
    store = None
    if install.multi_workspace(services.settings):
        store = install.installation_store(services.settings, services.database)
    clients = SlackClients(services.settings, tokens=install.token_lookup(store, services.settings))
    return SlackChannel(database=services.database, clients=clients)


@dataclass(frozen=True)
class Member:
    """The Slack member behind a request, in the core's terms."""

    network_id: int
    person_id: int
    team_id: str
    user_id: str


class SlackBot:
    """The bot's shared parts; cheap to build (nothing connects until used)."""

    def __init__(
        self,
        services: Services,
        *,
        clients: SlackClients | None = None,
        installations: InstallationStore | None = None,
        clock: Callable[[], datetime] = utc_now,
        jobs: list[tuple[str, Job]] | None = None,
    ) -> None:
        self.services = services
        self.settings: Settings = services.settings
        self.installations = installations
        self.clock = clock
        self.clients = clients or SlackClients(
            self.settings, tokens=install.token_lookup(installations, self.settings)
        )
        self.channel = SlackChannel(database=self._database(), clients=self.clients, clock=clock)
        self.inbox = Inbox(
            database=self._database(), spool_dir=self.settings.data_dir / SPOOL, clock=clock
        )
        self.courier = Courier(
            database=self._database,
            channel=self.channel,
            clock=clock,
            jobs=self.default_jobs() if jobs is None else jobs,
        )
        # Questions are routed here, not on bolt's listener threads, which must stay free
        # to acknowledge requests within Slack's 3 seconds whatever routing costs.
        self.routing = ThreadPoolExecutor(
            max_workers=ROUTING_THREADS, thread_name_prefix="askaround-routing"
        )
        self.listeners = ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="askaround-slack"
        )
        # Lookups an ack may give up on (the model or an index still loading): off the ack's
        # thread, so the ack goes out on time while the lookup finishes or waits here.
        self.lookups = ThreadPoolExecutor(
            max_workers=LOOKUP_THREADS, thread_name_prefix="askaround-lookup"
        )

    def warm_up(self) -> threading.Thread:
        """Load the routing index of every Slack network in the background, so the first
        question does not wait for it (at 100k evidence rows that takes most of a minute)."""

        def load() -> None:
            try:
                router = self.services.router
                with self.transaction() as session:
                    ids = list(
                        session.scalars(
                            select(Network.id).where(Network.slack_team_id.is_not(None))
                        )
                    )
            except Exception:
                log.exception("listing networks to warm failed; each first question loads its own")
                return
            for network_id in ids:  # one network's bad data never stops the others warming
                try:
                    with self.transaction() as session:
                        router.indexes.get(session, network_id=network_id)
                except Exception:
                    log.exception(
                        "network #%d: its index did not load; retried per question", network_id
                    )

        thread = threading.Thread(target=load, name="askaround-warm-up", daemon=True)
        thread.start()
        return thread

    def close(self, *, wait: bool = True) -> None:
        """Stop the courier and let running work finish (tests, shutdown)."""
        self.routing.shutdown(wait=wait)
        self.listeners.shutdown(wait=wait)
        self.lookups.shutdown(wait=wait, cancel_futures=True)
        self.courier.stop()

    @classmethod
    def build(cls, services: Services, *, clock: Callable[[], datetime] = utc_now) -> SlackBot:
        """The bot for these settings: multi-workspace (OAuth installs) or one token."""
        store = None
        if install.multi_workspace(services.settings):
            store = install.installation_store(services.settings, services.database)
        return cls(services, installations=store, clock=clock)

    def _database(self) -> Database:
        return self.services.database

    @property
    def database(self) -> Database:
        return self.services.database

    def now(self) -> datetime:
        return self.clock()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.database.transaction() as session:
            yield session

    # --- people ----------------------------------------------------------------------------

    def known_member(self, *, team_id: str, user_id: str) -> Member | None:
        """The person behind a Slack member we already know, or None (never created here: an
        answer carried out after its writer was forgotten must not bring them back)."""
        with self.transaction() as session:
            found = workspace.find_team_member(session, team_id=team_id, user_id=user_id)
            return None if found is None else Member(found[0], found[1].id, team_id, user_id)

    def member(self, *, team_id: str, user_id: str, name_hint: str | None = None) -> Member:
        """The person behind a Slack member, created on first contact (name, tz from Slack)."""
        now = self.now()
        with self.transaction() as session:
            network = workspace.team_network(session, team_id=team_id, now=now)
            person = workspace.find_member(session, network_id=network.id, user_id=user_id)
            if person is not None:
                return Member(network.id, person.id, team_id, user_id)
            network_id = network.id
        record = self._users_info(team_id, user_id) or {
            "id": user_id,
            "name": name_hint or user_id,
        }
        with self.transaction() as session:
            person = workspace.apply_member(session, network_id=network_id, user=record, now=now)
            return Member(network_id, person.id, team_id, user_id)

    def _users_info(self, team_id: str, user_id: str) -> dict[str, object] | None:
        """A member's profile, or None when Slack cannot say right now (we will learn later)."""
        try:
            response = self.clients.for_team(team_id).users_info(user=user_id)
        except SLACK_FAILURES as exc:
            log.warning("users.info %s failed (%s); creating the person without it", user_id, exc)
            return None
        user = response.get("user")
        return user if isinstance(user, dict) and user.get("id") == user_id else None

    def slack_ids(self, session: Session, person_ids: list[int]) -> dict[int, str]:
        return workspace.slack_ids(session, person_ids=person_ids)

    # --- inbound de-duplication ------------------------------------------------------------

    def first_time(self, session: Session, key: str) -> bool:
        """Record an inbound delivery (an event id, a request signature); False if seen before."""
        return insert_once(
            session, model=SeenEvent, values={"key": key[:200], "at": self.now()}, unique=("key",)
        )

    # --- periodic jobs ---------------------------------------------------------------------

    def default_jobs(self) -> list[tuple[str, Job]]:
        return [
            ("replay acknowledged requests", self.replay),
            ("lifecycle tick", self.tick),
            ("weekly summary", self.enqueue_summaries),
            ("forget old inbound ids", self.forget_seen),
        ]

    def replay(self, now: datetime) -> int:
        """Carry out what was acknowledged but not done (a crash, a restart, a busy database);
        how many requests this call carried out."""
        handlers = REPLAY_HANDLERS
        self.inbox.drain()
        done = 0
        for key, kind in self.inbox.owed():
            handler = handlers.get(kind)
            if handler is None:
                log.warning("acknowledged request %s of unknown kind %s left owed", key, kind)
                continue
            done += bool(handler(self, key))
        return done

    def tick(self, now: datetime) -> object:
        """Remind the asks still waiting shortly before escalation, then escalate and expire
        questions (the core's ``tick``) and prune the evidence change log."""
        with self.transaction() as session:
            hours.remind_waiting(session, now=now)
        with self.transaction() as session:
            report = questions.tick(
                session, router=self.services.router, settings=self.settings, now=now
            )
        with self.transaction() as session:
            prune_changes(session, keep=self.settings.change_log_keep)
        return report

    def enqueue_summaries(self, now: datetime) -> SummaryRun:
        """The core's weekly-summary job over every Slack network, each in its own transaction."""
        with self.transaction() as session:
            networks = list(
                session.scalars(select(Network.id).where(Network.slack_team_id.is_not(None)))
            )
        total = SummaryRun()
        for network_id in networks:
            with self.transaction() as session:
                total += enqueue_due_summaries(session, network_id=network_id, now=now)
        return total

    def forget_seen(self, now: datetime) -> object:
        """Forget inbound ids and carried-out requests older than Slack would retry them."""
        with self.transaction() as session:
            session.execute(
                delete(InboundRequest).where(
                    InboundRequest.done_at.is_not(None),
                    InboundRequest.done_at < now - SEEN_EVENTS_KEPT,
                )
            )
            return session.execute(delete(SeenEvent).where(SeenEvent.at < now - SEEN_EVENTS_KEPT))
