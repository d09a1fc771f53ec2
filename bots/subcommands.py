"""What the text after ``/ask`` means: a question, or one of the sub-commands.

Parsing is pure (no Slack, no database) so every sub-command and every mistake is testable as
plain values. Mistakes raise ``InvalidInput`` whose message is the helpful reply itself.

A text is a sub-command only when its first word names one and it has no question mark, so
"help with kubernetes ingress?" is a question while "help" is help.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from router.errors import InvalidInput
from router.lifecycle.hours import parse_hours
from router.question_text import question_text, visible

MAX_SNOOZE = timedelta(days=90)
MAX_BUDGET = 50
MAX_TOPIC_CHARS = 200

USAGE = """*How to use /ask*
• `/ask <your question>`: I find the people most likely to know and ask them for you.
• `/ask anon <your question>`: the same, without telling them who asks.
• `/ask balance`: who you owe and who owes you.
• `/ask optout` / `/ask optin`: stop or resume getting questions.
• `/ask snooze 7d` (or `12h`, `2w`, `off`): no questions for a while.
• `/ask interests list` · `/ask interests add sourdough, kubernetes` · `/ask interests remove sourdough`
• `/ask budget 3`: at most 3 questions a week for you (`/ask budget` shows it, `budget default` resets it).
• `/ask hours 9-17`: questions reach you only between those hours in your timezone (`/ask hours` shows them, `hours default` resets them).
• `/ask help`: this message."""


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class AskQuestion:
    text: str
    anonymous: bool = False


@dataclass(frozen=True)
class ShowBalance:
    pass


@dataclass(frozen=True)
class SetOptOut:
    opted_out: bool


@dataclass(frozen=True)
class Snooze:
    duration: timedelta | None  # None: wake up now


@dataclass(frozen=True)
class Interests:
    action: str  # list | add | remove
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Budget:
    per_week: int | None  # None with reset False: show it
    reset: bool = False


@dataclass(frozen=True)
class Hours:
    hours: str | None  # "9-17"; None with reset False: show them
    reset: bool = False


AskCommand = ShowHelp | AskQuestion | ShowBalance | SetOptOut | Snooze | Interests | Budget | Hours

_DURATION = re.compile(r"^(\d{1,4})\s*(h|hours?|d|days?|w|weeks?)$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_ALIASES = {
    "help": "help",
    "balance": "balance",
    "optout": "optout",
    "opt-out": "optout",
    "optin": "optin",
    "opt-in": "optin",
    "snooze": "snooze",
    "interests": "interests",
    "interest": "interests",
    "budget": "budget",
    "hours": "hours",
    "anon": "anon",
    "anonymous": "anon",
    "anonymously": "anon",
}


def typed_text(text: str) -> str:
    """What the member typed: Slack sends a command's or a message's text with ``&``, ``<`` and
    ``>`` escaped, which would otherwise reach people as a literal ``&amp;`` (``R&D``, ``<3``)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def parse_ask(text: str, *, max_chars: int) -> AskCommand:
    """The command in ``/ask`` text (as Slack sends it, escaped); InvalidInput with a helpful
    reply when it is not one."""
    text = visible(typed_text(text))
    if not text:
        return ShowHelp()
    if len(text) > max_chars:
        raise InvalidInput(
            f"That is {len(text)} characters; questions can have at most {max_chars}. "
            "Try the gist in a sentence or two, and share details once someone answers."
        )
    first, _, rest = text.partition(" ")
    rest = rest.strip()
    keyword = _ALIASES.get(first.lower())
    if keyword == "anon":
        if not rest:
            raise InvalidInput("Add your question after `anon`, like `/ask anon how do I ...?`")
        return _question(rest, anonymous=True, max_chars=max_chars)
    if "?" in text or (keyword is None and rest):
        return _question(text, anonymous=False, max_chars=max_chars)
    if keyword is None:
        raise InvalidInput(
            f"I don't know the sub-command `{first}`. To ask a question, write it out in full "
            f"(ending with `?` helps).\n\n{USAGE}"
        )
    return _subcommand(keyword, rest)


def _question(text: str, *, anonymous: bool, max_chars: int) -> AskQuestion:
    """A question only when it has words: ``/ask ?`` is not sent to anyone."""
    try:
        return AskQuestion(question_text(text, max_chars=max_chars), anonymous=anonymous)
    except InvalidInput:
        raise InvalidInput(
            "That question has no words in it. Write it out in full, "
            "like `/ask which hops for a hazy IPA?`"
        ) from None


def _subcommand(keyword: str, rest: str) -> AskCommand:
    if keyword in ("help", "balance", "optout", "optin") and rest:
        raise InvalidInput(
            f"`/ask {keyword}` takes nothing after it. To ask a question, end it with `?`."
        )
    if keyword == "help":
        return ShowHelp()
    if keyword == "balance":
        return ShowBalance()
    if keyword in ("optout", "optin"):
        return SetOptOut(opted_out=keyword == "optout")
    if keyword == "snooze":
        return Snooze(parse_duration(rest))
    if keyword == "interests":
        return _interests(rest)
    if keyword == "hours":
        return _hours(rest)
    return _budget(rest)


def _hours(rest: str) -> Hours:
    if not rest:
        return Hours(None)
    if rest.lower() in ("default", "reset", "off"):
        return Hours(None, reset=True)
    return Hours(str(parse_hours(rest)))


def parse_duration(text: str) -> timedelta | None:
    """``7d``, ``12h``, ``2w`` (up to 90 days) or ``off``; None means off."""
    text = text.strip().lower()
    if text in ("off", "stop", "none", "0"):
        return None
    match = _DURATION.match(text)
    if match is None:
        raise InvalidInput("Say how long, like `/ask snooze 7d`, `12h`, `2w`, or `off` to wake up.")
    duration = int(match.group(1)) * _UNITS[match.group(2)[0]]
    if duration <= timedelta(0):
        raise InvalidInput("A snooze lasts at least an hour; `/ask snooze off` ends one.")
    if duration > MAX_SNOOZE:
        raise InvalidInput(
            "A snooze lasts at most 90 days; for longer, `/ask optout` (and `/ask optin` later)."
        )
    return duration


def _interests(rest: str) -> Interests:
    action, _, topics_text = rest.partition(" ")
    action = action.lower() or "list"
    if action in ("ls", "show"):
        action = "list"
    if action in ("rm", "delete", "del"):
        action = "remove"
    if action == "list":
        if topics_text.strip():
            raise InvalidInput("`/ask interests list` takes nothing after it.")
        return Interests("list")
    if action not in ("add", "remove"):
        raise InvalidInput(
            f"I don't know `interests {action}`: use `interests list`, "
            "`interests add sourdough, kubernetes` or `interests remove sourdough`."
        )
    topics = tuple(dict.fromkeys(t.strip() for t in topics_text.split(",") if t.strip()))
    if not topics:
        raise InvalidInput(f"Name at least one interest, like `/ask interests {action} sourdough`.")
    for topic in topics:
        if len(topic) > MAX_TOPIC_CHARS:
            raise InvalidInput(f"An interest has at most {MAX_TOPIC_CHARS} characters.")
    return Interests(action, topics)


def _budget(rest: str) -> Budget:
    rest = rest.strip().lower()
    if not rest:
        return Budget(None)
    if rest in ("default", "reset"):
        return Budget(None, reset=True)
    if not re.fullmatch(r"[0-9]{1,4}", rest) or int(rest) > MAX_BUDGET:  # "²".isdigit() is True
        raise InvalidInput(
            f"Give a number of questions per week from 0 to {MAX_BUDGET}, like `/ask budget 3`, "
            "or `/ask budget default`."
        )
    return Budget(int(rest))
