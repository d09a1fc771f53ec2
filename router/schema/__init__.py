"""The database schema: SQLAlchemy 2 typed tables, the same on SQLite and PostgreSQL."""

from router.schema.base import Base, UTCDateTime
from router.schema.delivery import ApiKey, OutboxMessage, SeenEvent
from router.schema.ledger import Favour
from router.schema.people import Evidence, ExternalId, Network, Person, Tie
from router.schema.questions import Answer, Ask, Question, QuestionEvent

__all__ = [
    "Answer",
    "ApiKey",
    "Ask",
    "Base",
    "Evidence",
    "ExternalId",
    "Favour",
    "Network",
    "OutboxMessage",
    "Person",
    "Question",
    "QuestionEvent",
    "SeenEvent",
    "Tie",
    "UTCDateTime",
]
