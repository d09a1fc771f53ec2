"""The weekly summary as plain text, for email, a log, or a Slack message's fallback text.

Pure functions of the summary values and ``now`` (for "2 days ago"); other edges can render the
same values their own way (``as_dict()``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from router.ledger.balances import Debt
    from router.ledger.summary import NetworkSummary, OpenQuestion, PersonSummary, Tally

QUOTE_CHARS = 80


def _favours(tally: Tally) -> str:
    """'3 favours (4.25)': answers, then their weight with helpful and thanks."""
    count = f"{tally.count} favour{'' if tally.count == 1 else 's'}"
    return count if tally.weight == tally.count else f"{count} ({tally.weight:g})"


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return f'"{text if len(text) <= QUOTE_CHARS else text[: QUOTE_CHARS - 1].rstrip() + "…"}"'


def _ago(then: datetime, now: datetime) -> str:
    delta = now - then
    if delta < timedelta(hours=1):
        return "just now"
    if delta < timedelta(days=1):
        hours = int(delta.total_seconds() // 3600)
        return f"{hours} hour{'' if hours == 1 else 's'} ago"
    days = delta.days
    return f"{days} day{'' if days == 1 else 's'} ago"


def _owing(entry: Debt) -> str:
    """'  - Ben: 2 (Ben answered 3 of yours, you answered 1 of theirs)'."""
    return (
        f"  - {entry.name}: {entry.net:g} ({entry.name} answered {entry.their_count} of yours, "
        f"you answered {entry.your_count} of theirs)"
    )


def _question_line(question: OpenQuestion, now: datetime, *, with_asker: bool) -> str:
    who = f" from {question.asker_name}" if with_asker else ""
    asked = f"{question.people_asked} {'person' if question.people_asked == 1 else 'people'} asked"
    when = _ago(question.asked_at, now)
    return f"  - #{question.question_id} {_quote(question.text)}{who}, {when}; {asked}"


def render_person_summary(summary: PersonSummary, *, now: datetime) -> str:
    """One person's week in a few short paragraphs."""
    lines = [
        f"Your Askaround week {summary.week}, {summary.name}",
        "",
        f"This week you gave {_favours(summary.given_week)} "
        f"and received {_favours(summary.received_week)}.",
        f"All time: given {_favours(summary.given_total)}, "
        f"received {_favours(summary.received_total)}.",
    ]
    if summary.reused_week:
        n = summary.reused_week
        lines.append(
            f"Your answers helped {n} more {'person' if n == 1 else 'people'} this week, "
            "without anyone being asked."
        )
    if summary.owes:
        lines += ["", "You owe:"]
        lines += [_owing(entry) for entry in summary.owes]
    if summary.owed_by:
        lines += ["", "Owed to you:"]
        lines += [_owing(entry) for entry in summary.owed_by]
    if summary.waiting:
        lines += ["", f"Waiting on you ({len(summary.waiting)}):"]
        lines += [
            f"  - #{ask.question_id} {_quote(ask.question)} from {ask.asker_name}, "
            f"asked {_ago(ask.asked_at, now)}"
            for ask in summary.waiting
        ]
    if summary.unanswered:
        lines += ["", f"Your questions still unanswered ({len(summary.unanswered)}):"]
        lines += [_question_line(q, now, with_asker=False) for q in summary.unanswered]
    return "\n".join(lines) + "\n"


def render_network_summary(summary: NetworkSummary) -> str:
    """The network's week: who gave most, who only takes, what is unanswered, how asks spread."""
    now = summary.as_of
    spread = summary.spread
    lines = [f"Askaround network {summary.network_name}, week {summary.week}", ""]
    if summary.top_givers:
        givers = ", ".join(f"{name} ({_favours(tally)})" for name, tally in summary.top_givers)
        lines.append(f"Top givers this week: {givers}")
    else:
        lines.append("Top givers this week: nobody answered a question this week")
    lines.append(
        "Only take, never gave: "
        + (", ".join(summary.only_take) if summary.only_take else "nobody")
    )
    if spread.asks:
        lines.append(
            f"Asks this week: {spread.asks} to {spread.people_asked} people; "
            f"most to one person {spread.max_per_person} ({', '.join(spread.busiest)}); "
            f"Gini {spread.gini:.2f} across everyone, {spread.gini_among_asked:.2f} among those asked"
        )
    else:
        lines.append("Asks this week: none")
    if summary.unanswered:
        lines += ["", f"Unanswered questions ({len(summary.unanswered)}):"]
        lines += [_question_line(q, now, with_asker=True) for q in summary.unanswered]
    else:
        lines += ["", "Unanswered questions: none"]
    return "\n".join(lines) + "\n"
