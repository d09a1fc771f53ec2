"""Favours: the give/take ledger. Each row is one favour from a giver to a taker."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from router.storage.schema.base import Base, UTCDateTime


class Favour(Base):
    __tablename__ = "favours"
    __table_args__ = (
        CheckConstraint("giver_id <> taker_id", name="not_self"),
        CheckConstraint("weight > 0", name="positive"),
        UniqueConstraint("network_id", "source_key"),
        Index("ix_favours_pair", "network_id", "giver_id", "taker_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    giver_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    taker_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # answer | helpful | thanks | history
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    answer_id: Mapped[int | None] = mapped_column(ForeignKey("answers.id", ondelete="SET NULL"))
    source_key: Mapped[str] = mapped_column(String(200))  # idempotency: one favour per cause
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
