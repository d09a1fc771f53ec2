"""Why each chosen person was picked, as plain sentences (``Reason`` values every surface shows).

With the learned ranker, a kind of reason (matching evidence, activity, being around at this
hour, ties with the asker) is shown only when that kind of feature set the person apart from the
other candidates (its contributions against the pool's average), strongest first, and at least
the strongest one is always given; with the hand-set blend every reason that applies is shown,
in a fixed order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from router.network.people import ASKAROUND_SOURCE
from router.routing.ranking import PersonScore
from router.routing.route import Candidate, Reason
from router.search.network_index import NetworkIndex
from router.storage.schema import Evidence, ExternalId, Person

SNIPPET_CHARS = 160
EVIDENCE_REASONS = 2
REASON_MIN_SIMILARITY = 0.3  # weaker dense matches still rank, but are not shown as reasons
REASON_SIMILARITY_GAP = 0.2
ORDER = ("evidence", "activity", "social")  # the hand-set blend's order
MIN_DRIVE = 0.0  # a kind of feature must have pushed the score up to be given as a reason
PRESENCE_MIN_ANSWERS = 8  # "often answers at this time of day" needs a record to say "often"


@dataclass(frozen=True)
class Shown:
    """What the reasons quote, read in one go: the chosen people's names and ids, and the
    evidence rows their reasons cite."""

    names: Mapping[int, tuple[str, str]]  # person id -> (display name, primary external id)
    evidence: Mapping[int, Any]


def fetch_shown(session: Session, chosen: Sequence[PersonScore]) -> Shown:
    """Read the chosen people, their ids and their cited evidence (three plain statements)."""
    ids = [p.person_id for p in chosen]
    if not ids:
        return Shown(names={}, evidence={})
    first: dict[int, str] = {}
    for person_id, value in session.execute(
        select(ExternalId.person_id, ExternalId.value)
        .where(ExternalId.person_id.in_(ids))
        .order_by(ExternalId.id.desc())
    ):
        first[int(person_id)] = str(value)  # the lowest id is written last
    names = {
        int(pid): (str(name), first.get(int(pid), f"person:{pid}"))
        for pid, name in session.execute(
            select(Person.id, Person.display_name).where(Person.id.in_(ids))
        )
    }
    evidence_ids = [hit.evidence_id for p in chosen for _, hit in p.hits[:EVIDENCE_REASONS]]
    evidence = {
        row.id: row
        for row in session.execute(
            select(
                Evidence.id,
                Evidence.kind,
                Evidence.text,
                Evidence.context,
                Evidence.source,
                Evidence.link,
                Evidence.created_at,
            ).where(Evidence.id.in_(evidence_ids))
        )
    }
    return Shown(names=names, evidence=evidence)


def explain(
    shown: Shown,
    chosen: list[PersonScore],
    *,
    index: NetworkIndex,
    closeness: Mapping[int, int],
    fairness: Mapping[int, str],
    asker_id: int | None,
    now: datetime,
    drivers: Mapping[int, Mapping[str, float]],
) -> list[Candidate]:
    """Candidates with their reasons; ``drivers`` holds each person's contribution per kind."""
    if not chosen:
        return []
    evidence = shown.evidence
    best_dense = max((h.dense_score or 0.0 for p in chosen for _, h in p.hits), default=0.0)
    floor = max(REASON_MIN_SIMILARITY, best_dense - REASON_SIMILARITY_GAP)
    candidates = []
    for scored in chosen:
        name, external_id = shown.names[scored.person_id]
        by_kind: dict[str, list[Reason]] = {}
        for _, hit in scored.hits[:EVIDENCE_REASONS]:
            row = evidence.get(hit.evidence_id)
            quoted = hit.lexical_rank is not None or (hit.dense_score or 0.0) >= floor
            if row is not None and quoted:
                by_kind.setdefault("evidence", []).append(_evidence_reason(row, hit.dense_score))
        stats = index.activity.get(scored.person_id)
        if stats is not None and stats.answers > 0:
            days = max(0, int((now.timestamp() - stats.last_at) // 86400))
            by_kind["activity"] = [
                Reason(
                    kind="activity",
                    text=f"has answered {_count(stats.answers, 'question')}, the last {_ago(days)}",
                )
            ]
        ties = closeness.get(scored.person_id, 0)
        if ties and asker_id is not None:
            by_kind["social"] = [
                Reason(kind="social", text=f"has {ties} favour{'s' * (ties != 1)} with you")
            ]
        drive = drivers.get(scored.person_id)
        record = stats.answers if stats is not None else 0
        presence = drive.get("presence", 0.0) if drive is not None else 0.0
        if presence > MIN_DRIVE and record >= PRESENCE_MIN_ANSWERS:
            by_kind["presence"] = [
                Reason(kind="presence", text="often answers at this time of day")
            ]
        if drive is None:
            kinds = [kind for kind in ORDER if kind in by_kind]
        else:
            ranked = sorted(by_kind, key=lambda kind: -drive.get(kind, 0.0))
            kinds = [kind for kind in ranked if drive.get(kind, 0.0) > MIN_DRIVE] or ranked[:1]
        reasons = [reason for kind in kinds for reason in by_kind[kind]]
        if scored.person_id in fairness:
            reasons.append(Reason(kind="fairness", text=fairness[scored.person_id]))
        candidates.append(
            Candidate(
                person_id=scored.person_id,
                external_id=external_id,
                name=name,
                score=float(scored.score),
                reasons=tuple(reasons),
            )
        )
    return candidates


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _ago(days: int) -> str:
    if days == 0:
        return "today"
    if days < 60:
        return f"{days} day{'s' * (days != 1)} ago"
    return f"{math.floor(days / 30.4)} months ago"


def _evidence_reason(row: Any, similarity: float | None) -> Reason:
    kind = row.kind
    text = " ".join(str(row.text).split())
    context = " ".join(str(row.context).split())
    created: datetime = row.created_at
    snippet = text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1].rstrip() + "…"
    title = context.split("\n")[0] if context else ""
    if row.source == ASKAROUND_SOURCE:  # a private exchange: say that, never quote it
        return Reason(
            kind="evidence",
            text=f"answered a similar question through Askaround ({created.date().isoformat()})",
            evidence_id=int(row.id),
            source=ASKAROUND_SOURCE,
            date=created,
            score=None if similarity is None else round(float(similarity), 4),
        )
    if kind == "answer":
        about = f'answered "{_clip(title, 90)}"' if title else f'answered "{_clip(text, 90)}"'
        sentence = f"{about} ({created.date().isoformat()})"
    elif kind == "interest":
        sentence = f"lists {_clip(text, 90)} as an interest"
    else:
        sentence = f'profile says "{_clip(text, 90)}"'
    return Reason(
        kind="evidence",
        text=sentence,
        evidence_id=int(row.id),
        snippet=snippet,
        source=str(row.source),
        link=row.link,
        date=created,
        score=None if similarity is None else round(float(similarity), 4),
    )


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
