"""The one check of a question's text, shared by Slack, the API and the CLI."""

from __future__ import annotations

import pytest

from router.errors import InvalidInput
from router.question_text import question_text


@pytest.mark.parametrize("text", ["?", "  ", "\u200b?\u200b", "\u2060\ufeff", "?!… ‽", "🍺?"])
def test_a_text_without_letters_or_digits_is_not_a_question(text: str) -> None:
    with pytest.raises(InvalidInput):
        question_text(text, max_chars=100)


@pytest.mark.parametrize("filler", ["\u3164", "\u115f", "\u1160", "\uffa0"])
def test_a_question_of_hangul_fillers_is_empty_though_they_count_as_letters(filler: str) -> None:
    # letters to str.isalnum, blank on every screen: asked, people would get an empty question
    with pytest.raises(InvalidInput, match="empty"):
        question_text(f"{filler}{filler} \u200b{filler}", max_chars=100)


def test_invisible_characters_are_removed_and_the_rest_kept() -> None:
    assert question_text("\ufeff which\u200b hops?\u200d ", max_chars=100) == "which hops?"
    assert question_text("déjà vu? 42", max_chars=100) == "déjà vu? 42"
    assert question_text("\u3164한국어 질문?", max_chars=100) == "한국어 질문?"


def test_a_question_over_the_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="limit is 5"):
        question_text("abcdefg", max_chars=5)
