"""What ``/ask`` text means: every sub-command, and a helpful reply for every mistake."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bots.subcommands import (
    AskQuestion,
    Budget,
    Interests,
    SetOptOut,
    ShowBalance,
    ShowHelp,
    Snooze,
    parse_ask,
)
from router.errors import InvalidInput

LIMIT = 4000


def parse(text: str) -> object:
    return parse_ask(text, max_chars=LIMIT)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ShowHelp()),
        ("   ", ShowHelp()),
        ("help", ShowHelp()),
        ("HELP", ShowHelp()),
        ("balance", ShowBalance()),
        ("optout", SetOptOut(opted_out=True)),
        ("opt-out", SetOptOut(opted_out=True)),
        ("optin", SetOptOut(opted_out=False)),
        ("snooze 7d", Snooze(timedelta(days=7))),
        ("snooze 12h", Snooze(timedelta(hours=12))),
        ("snooze 2w", Snooze(timedelta(weeks=2))),
        ("snooze 3 days", Snooze(timedelta(days=3))),
        ("snooze off", Snooze(None)),
        ("interests", Interests("list")),
        ("interests list", Interests("list")),
        ("interests add sourdough, kubernetes", Interests("add", ("sourdough", "kubernetes"))),
        ("interests add hops, hops", Interests("add", ("hops",))),
        ("interests remove sourdough", Interests("remove", ("sourdough",))),
        ("budget", Budget(None)),
        ("budget 3", Budget(3)),
        ("budget 0", Budget(0)),
        ("budget default", Budget(None, reset=True)),
    ],
)
def test_every_sub_command_parses_to_its_value(text: str, expected: object) -> None:
    assert parse(text) == expected


def test_a_question_is_a_question_even_when_it_starts_with_a_sub_command_word() -> None:
    assert parse("help with kubernetes ingress?") == AskQuestion("help with kubernetes ingress?")
    assert parse("budget airlines to Lisbon in May?") == AskQuestion(
        "budget airlines to Lisbon in May?"
    )


def test_several_words_without_a_sub_command_are_a_question() -> None:
    assert parse("which hop for a hazy IPA") == AskQuestion("which hop for a hazy IPA")


def test_anon_asks_without_saying_who_asks() -> None:
    assert parse("anon is my salary fair?") == AskQuestion("is my salary fair?", anonymous=True)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("frobnicate", "don't know the sub-command `frobnicate`"),
        ("snooze forever", "Say how long"),
        ("snooze 0d", "at least an hour"),
        ("snooze 100d", "at most 90 days"),
        ("budget lots", "from 0 to 50"),
        ("budget ²", "from 0 to 50"),
        ("budget 51", "from 0 to 50"),
        ("interests add", "at least one interest"),
        ("interests juggle x", "don't know `interests juggle`"),
        ("balance please", "takes nothing after it"),
        ("anon", "Add your question"),
    ],
)
def test_mistakes_get_a_helpful_reply(text: str, says: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse(text)
    assert says in str(error.value)


def test_over_long_text_is_refused_with_the_limit() -> None:
    with pytest.raises(InvalidInput, match="at most 4000"):
        parse("why " * 1001)
