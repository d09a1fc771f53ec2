"""Who is in a network and what they know: networks, people, their ids, evidence and ties."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from router.storage.schema.base import Base, UTCDateTime


class Network(Base):
    """One community (a Slack workspace, an imported site); nothing crosses between networks."""

    __tablename__ = "networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    weekly_ask_budget: Mapped[int | None] = mapped_column(Integer)
    slack_team_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    deactivated: Mapped[bool] = mapped_column(Boolean, default=False)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ask_budget: Mapped[int | None] = mapped_column(Integer)
    # "9-17": asks reach them between those hours in their timezone (None: the workspace default)
    working_hours: Mapped[str | None] = mapped_column(String(11))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    company: Mapped[str | None] = mapped_column(String(200))  # from contacts (LinkedIn, vCard)
    position: Mapped[str | None] = mapped_column(String(200))
    how_known: Mapped[str | None] = mapped_column(String(300))  # how the network's owner knows them
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # forgotten: a tombstone

    external_ids: Mapped[list[ExternalId]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )


class ExternalId(Base):
    """An identifier another system knows a person by: ``slack:U123``, ``se:42``, ``email:a@b.c``."""

    __tablename__ = "external_ids"
    __table_args__ = (UniqueConstraint("network_id", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    # ``email:`` and an address as long as ``Person.email`` holds (RFC 5321 allows 254)
    value: Mapped[str] = mapped_column(String(330))

    person: Mapped[Person] = relationship(back_populates="external_ids")


class Evidence(Base):
    """Something showing what a person knows: a past answer, a stated interest, a profile line.

    The vector lives beside the text (``embedding`` as float32 bytes, ``embedding_model`` naming the
    model that made it) so an index can always be rebuilt from the database.
    """

    __tablename__ = "evidence"
    __table_args__ = (
        UniqueConstraint("network_id", "source_key"),
        Index("ix_evidence_network_person", "network_id", "person_id"),
        # Covers the index-freshness check (counts and id sums per model) without reading rows.
        Index("ix_evidence_network_model", "network_id", "embedding_model", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # answer | interest | profile
    text: Mapped[str] = mapped_column(Text)
    context: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(40))
    source_key: Mapped[str | None] = mapped_column(String(200))
    link: Mapped[str | None] = mapped_column(String(500))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    embedding_model: Mapped[str | None] = mapped_column(String(300))


class EvidenceChange(Base):
    """One evidence row inserted, edited or deleted: the log every process's search index follows.

    Written by database triggers (migration 0004) in the same transaction as the change itself, so
    no write path can forget it. On PostgreSQL the trigger takes a per-network transaction lock
    first, so a network's changes commit in ``seq`` order and a reader's cursor never skips one.
    """

    __tablename__ = "evidence_changes"
    __table_args__ = (
        Index("ix_evidence_changes_network_seq", "network_id", "seq"),
        {"sqlite_autoincrement": True},
    )

    seq: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(Integer)  # no foreign key: outlives a deleted network
    evidence_id: Mapped[int] = mapped_column(Integer)


class EvidenceChangeHorizon(Base):
    """The newest ``seq`` pruned from a network's change log: a reader whose cursor is older
    has missed changes and rebuilds its index from the evidence rows instead."""

    __tablename__ = "evidence_change_horizons"

    network_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pruned_through: Mapped[int] = mapped_column(Integer)


class Tie(Base):
    """How often ``helper`` has helped ``helped`` (answered their question), directed."""

    __tablename__ = "ties"
    __table_args__ = (UniqueConstraint("network_id", "helper_id", "helped_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    helper_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    helped_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)
