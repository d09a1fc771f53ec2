"""What routing returns: a ranked list of frozen candidates, each carrying its reasons as data.

The CLI, the HTTP API and the Slack bot all render these same values, so every surface gives the
same explanation ("asked because...").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from pydantic import field_serializer
from pydantic.dataclasses import dataclass as value
from sqlalchemy.orm import Session

from router.values import json_of


@value(frozen=True)
class Reason:
    """One reason a person was picked: matching evidence, a social tie, activity, or fairness."""

    kind: str  # evidence | social | activity | presence | fairness | contact
    text: str  # a sentence for people: 'answered "Which hop for a NEIPA?" (2024-03-02)'
    evidence_id: int | None = None
    snippet: str | None = None
    source: str | None = None
    link: str | None = None
    date: datetime | None = None
    score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@value(frozen=True)
class Candidate:
    """A person to ask, with the score that ranked them and the reasons to show."""

    person_id: int
    external_id: str
    name: str
    score: float
    reasons: tuple[Reason, ...]

    @field_serializer("score")
    def _rounded(self, score: float) -> float:
        return round(score, 6)

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)

    def because(self) -> str:
        """The explanation in one line: 'asked because ...'."""
        return "; ".join(reason.text for reason in self.reasons) or "no specific reason"


@value(frozen=True)
class Route:
    """The ranked candidates for one question, how they were ranked, and what changed the order."""

    question: str
    candidates: tuple[Candidate, ...]
    adjusted: bool = False  # fairness (ledger, load) changed the order
    notes: tuple[str, ...] = field(default_factory=tuple)
    intent: str = "ask"  # ask: people to ask | contacts: "who do I know at X?", nobody is asked
    ranked_by: str = "hand-set"  # the model that ranked it: "pretrained-…", "adapted-…", "hand-set"

    def as_dict(self) -> dict[str, Any]:
        return json_of(self)


@dataclass(frozen=True)
class Adjustment:
    """A policy's word on one person: scale their score, explain why, or leave them out."""

    factor: float = 1.0
    reason: str | None = None
    exclude: bool = False


class PolicyChoice(Enum):
    """``FROM_SETTINGS``: the lifecycle picks the policy the settings ask for (fairness on by
    default). Everywhere a policy is passed, ``None`` means the same thing: no policy at all."""

    FROM_SETTINGS = "from settings"


FROM_SETTINGS = PolicyChoice.FROM_SETTINGS


class RoutingPolicy(Protocol):
    """Reweighs candidates after relevance ranking (fairness: ledger, load, budgets)."""

    def adjust(
        self,
        session: Session,
        *,
        network_id: int,
        asker_id: int | None,
        person_ids: list[int],
        now: datetime,
    ) -> dict[int, Adjustment]: ...
