"""The database schema: SQLAlchemy 2 typed tables, the same on SQLite and PostgreSQL."""

from router.storage.schema.base import Base, UTCDateTime
from router.storage.schema.delivery import ApiKey, InboundRequest, OutboxMessage, SeenEvent
from router.storage.schema.ledger import Favour
from router.storage.schema.people import (
    Evidence,
    EvidenceChange,
    EvidenceChangeHorizon,
    ExternalId,
    Network,
    Person,
    Tie,
)
from router.storage.schema.questions import Answer, Ask, Question, QuestionEvent

__all__ = [
    "Answer",
    "ApiKey",
    "Ask",
    "Base",
    "Evidence",
    "EvidenceChange",
    "EvidenceChangeHorizon",
    "ExternalId",
    "Favour",
    "InboundRequest",
    "Network",
    "OutboxMessage",
    "Person",
    "Question",
    "QuestionEvent",
    "SeenEvent",
    "Tie",
    "UTCDateTime",
]
