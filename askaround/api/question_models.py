"""Response shapes of the question lifecycle that are not core values as they stand.

Questions, asks, answers and history are the core's values (``router.lifecycle.views``), returned
by the API as they are. Only two wrappers remain here: a page of questions, and a question with
the route that picked its people (the route keeps its own response model in ``api.route``).
"""

from __future__ import annotations

from pydantic import BaseModel

from askaround.api.route import RouteOut
from router.lifecycle.views import AskedQuestion, QuestionView


class AskedQuestionOut(BaseModel):
    """A question just asked, and the route that picked the people asked."""

    question: QuestionView
    route: RouteOut

    @classmethod
    def of(cls, asked: AskedQuestion) -> AskedQuestionOut:
        return cls(question=asked.question, route=RouteOut.of(asked.route))


class QuestionList(BaseModel):
    """A page of questions; ``next_offset`` is set when the page was full (more may follow)."""

    items: list[QuestionView]
    next_offset: int | None
