"""A question's life: the question, the asks it sends out, answers, and every state change as an event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from router.lifecycle.states import AskStatus, QuestionStatus, check_constraint
from router.storage.schema.base import Base, UTCDateTime


class Question(Base):
    __tablename__ = "questions"
    __table_args__ = (
        Index("ix_questions_network_status", "network_id", "status"),
        CheckConstraint(check_constraint("status", QuestionStatus), name="status"),
        # a client's key names one question per network (router.lifecycle.retries)
        Index("uq_questions_network_idempotency_key", "network_id", "idempotency_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    asker_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    k: Mapped[int] = mapped_column(Integer, default=3)
    status: Mapped[str] = mapped_column(String(20))  # a QuestionStatus
    round: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_escalation_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel_ref: Mapped[str | None] = mapped_column(String(200))  # e.g. Slack thread ts for relays
    idempotency_key: Mapped[str | None] = mapped_column(String(200))  # the client's, if it sent one
    request_hash: Mapped[str | None] = mapped_column(String(64))  # sha256 of the request it named


class Ask(Base):
    """One person asked one question, with the score and reasons that picked them."""

    __tablename__ = "asks"
    __table_args__ = (
        UniqueConstraint("question_id", "person_id"),
        Index("ix_asks_person_created", "person_id", "created_at"),
        CheckConstraint(check_constraint("status", AskStatus), name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20))  # an AskStatus
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    channel_ref: Mapped[str | None] = mapped_column(
        String(200)
    )  # e.g. Slack channel + ts of the DM


class Answer(Base):
    __tablename__ = "answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    ask_id: Mapped[int | None] = mapped_column(
        ForeignKey("asks.id", ondelete="SET NULL"), unique=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    helpful: Mapped[bool] = mapped_column(Boolean, default=False)
    thanked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QuestionEvent(Base):
    """Every state change of a question, so its history can be shown and audited."""

    __tablename__ = "question_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("questions.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
