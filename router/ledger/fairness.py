"""Fair routing: the ledger and each person's load reweigh who gets asked.

``FairnessPolicy`` is a ``RoutingPolicy``; the router asks it about the relevant people and
applies what it says, flagging the route as adjusted when the top ``k`` changed. Its rules:

- **Budget**: each person is asked at most their budget per rolling week (their own
  ``ask_budget``, else the network's ``weekly_ask_budget``, else ``settings.weekly_ask_budget``);
  at the budget they are left out, and below it each ask already made lowers their score a
  little, so load spreads before anyone hits the ceiling. A budget of 0 means "never ask me".
- **Rest**: someone asked less than ``settings.rest_hours`` ago is left out.
- **Reciprocity**: someone who owes the asker favours (the asker gave them more than they gave
  back) ranks up, by ``owed_boost`` per favour, up to ``owed_cap`` favours.
- **Protection**: someone who has recently given far more than they received (over the last
  ``protect_window``: surplus at least ``protect_surplus`` and given at least ``protect_ratio``
  times received) ranks down, by the square root of ``protect_surplus / surplus``, never below
  ``protect_floor``.

Every rule that fires says so in one sentence, which the router shows as a fairness reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from router.ledger.balances import Window, pair_balances_of, pair_sums, totals_of
from router.ledger.privacy import hidden_given
from router.routing.route import Adjustment, PolicyChoice, RoutingPolicy
from router.settings import Settings
from router.storage.schema import Ask, Network, Person


@dataclass(frozen=True)
class FairnessRules:
    """The knobs of the policy beyond the settings; defaults are the ones the replay reports."""

    budget_window: timedelta = timedelta(days=7)
    load_penalty: float = 0.25  # score x (1 - load_penalty * asks / budget) below the budget
    owed_boost: float = 0.15
    owed_cap: float = 3.0
    protect_surplus: float = 10.0
    protect_ratio: float = 3.0
    protect_floor: float = 0.5
    # Recent generosity, not a lifetime of it: with all time, an imported history marks the best
    # answerers of a site as heavy givers forever and routing avoids exactly the people who know.
    protect_window: timedelta | None = timedelta(days=90)


def gini(values: Sequence[float]) -> float:
    """The Gini coefficient of non-negative values: 0 when all are equal, near 1 when one has all."""
    total = float(sum(values))
    if not values or total <= 0:
        return 0.0
    ordered = sorted(values)
    n = len(ordered)
    weighted = sum(rank * value for rank, value in enumerate(ordered, start=1))
    return (2.0 * weighted) / (n * total) - (n + 1) / n


def _plural(count: float, word: str) -> str:
    shown = f"{count:g}"
    return f"{shown} {word}{'' if shown == '1' else 's'}"


def _ago(elapsed: timedelta) -> str:
    """How long ago, as a person says it: "just now", "5 minutes ago", "3 hours ago"."""
    minutes = int(elapsed.total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{_plural(minutes, 'minute')} ago"
    return f"{_plural(max(1, round(minutes / 60)), 'hour')} ago"


class FairnessPolicy:
    """Budgets, rest, reciprocity and protection of heavy givers, from the ledger and the asks."""

    def __init__(self, *, settings: Settings, rules: FairnessRules | None = None) -> None:
        self.settings = settings
        self.rules = rules or FairnessRules()

    def adjust(
        self,
        session: Session,
        *,
        network_id: int,
        asker_id: int | None,
        person_ids: list[int],
        now: datetime,
    ) -> dict[int, Adjustment]:
        """Each listed person's factor (or exclusion) and the sentence explaining it."""
        if not person_ids:
            return {}
        ids = sorted(set(person_ids))
        budgets = self._budgets(session, network_id, ids)
        load = self._load(session, ids, now)
        owed = self._owed_to_asker(session, network_id, asker_id, ids, now)
        since = None if self.rules.protect_window is None else now - self.rules.protect_window
        totals = self._totals(session, network_id, ids, since, now)
        rest = timedelta(hours=self.settings.rest_hours)
        adjustments: dict[int, Adjustment] = {}
        for person_id in ids:
            budget = budgets.get(person_id, self.settings.weekly_ask_budget)
            asks, last_at = load.get(person_id, (0, None))
            if asks >= budget:
                reason = (
                    "has asked not to be asked"
                    if budget == 0
                    else f"already asked {_plural(asks, 'time')} this week (budget {budget})"
                )
                adjustments[person_id] = Adjustment(exclude=True, reason=reason)
                continue
            if last_at is not None and now - last_at < rest:
                adjustments[person_id] = Adjustment(
                    exclude=True, reason=f"resting: asked {_ago(now - last_at)}"
                )
                continue
            factor, reasons = 1.0, []
            if asks:
                factor *= 1.0 - self.rules.load_penalty * asks / budget
                reasons.append(f"asked {_plural(asks, 'time')} this week (budget {budget})")
            debt = owed.get(person_id, 0.0)
            if debt > 0:
                factor *= 1.0 + self.rules.owed_boost * min(debt, self.rules.owed_cap)
                reasons.append(f"owes you {_plural(debt, 'favour')}")
            given, received = totals.get(person_id, (0.0, 0.0))
            surplus = given - received
            if (
                surplus >= self.rules.protect_surplus
                and given >= self.rules.protect_ratio * received
            ):
                factor *= max(
                    self.rules.protect_floor, math.sqrt(self.rules.protect_surplus / surplus)
                )
                reasons.append(f"protected: gave {_plural(given, 'favour')}, received {received:g}")
            if reasons:
                adjustments[person_id] = Adjustment(factor=factor, reason="; ".join(reasons))
        return adjustments

    def _budgets(self, session: Session, network_id: int, ids: list[int]) -> dict[int, int]:
        network_budget = session.scalar(
            select(Network.weekly_ask_budget).where(Network.id == network_id)
        )
        default = self.settings.weekly_ask_budget if network_budget is None else network_budget
        rows = session.execute(
            select(Person.id, Person.ask_budget).where(Person.id.in_(ids))
        ).tuples()
        return {int(pid): default if budget is None else int(budget) for pid, budget in rows}

    def _load(
        self, session: Session, ids: list[int], now: datetime
    ) -> dict[int, tuple[int, datetime | None]]:
        """Asks per person in the budget window, and when they were last asked (up to ``now``)."""
        window_start = now - self.rules.budget_window
        look_back = now - max(self.rules.budget_window, timedelta(hours=self.settings.rest_hours))
        in_window = func.sum(case((Ask.created_at > window_start, 1), else_=0))
        rows = session.execute(
            select(Ask.person_id, in_window, func.max(Ask.created_at))
            .where(Ask.person_id.in_(ids), Ask.created_at > look_back, Ask.created_at <= now)
            .group_by(Ask.person_id)
        ).tuples()
        return {int(pid): (int(count or 0), last) for pid, count, last in rows}

    def _owed_to_asker(
        self, session: Session, network_id: int, asker_id: int | None, ids: list[int], now: datetime
    ) -> dict[int, float]:
        """How much each person owes the asker: what the asker gave them minus what they gave."""
        if asker_id is None:
            return {}
        pairs = pair_sums(
            session, network_id=network_id, window=Window.as_of(now), between=(asker_id, ids)
        )
        owed = {pair.other_id: pair.net for pair in pair_balances_of(asker_id, pairs)}
        # what the asker gave anonymous askers is not theirs to be owed by name
        for taker, weight in hidden_given(
            session, network_id=network_id, giver_id=asker_id, window=Window.as_of(now)
        ).items():
            if taker in owed:
                owed[taker] -= weight
        return owed

    def _totals(
        self,
        session: Session,
        network_id: int,
        ids: list[int],
        since: datetime | None,
        now: datetime,
    ) -> dict[int, tuple[float, float]]:
        """Weight given and received by each person from ``since`` up to and including ``now``."""
        pairs = pair_sums(
            session, network_id=network_id, window=Window.as_of(now, since=since), people=ids
        )
        totals = totals_of(pairs)
        return {pid: (totals[pid].given, totals[pid].received) for pid in ids if pid in totals}


def chosen_policy(
    policy: RoutingPolicy | PolicyChoice | None, settings: Settings
) -> RoutingPolicy | None:
    """The policy to route with: the one given (None: none at all), or the settings' choice."""
    return fairness_policy(settings) if policy is PolicyChoice.FROM_SETTINGS else policy


def fairness_policy(
    settings: Settings, rules: FairnessRules | None = None
) -> FairnessPolicy | None:
    """The policy the settings ask for: fairness on by default, None when switched off."""
    return FairnessPolicy(settings=settings, rules=rules) if settings.fairness else None
