"""Questions: ask (route and ask the best people), list, read with history, close.

A key acts for its whole network, so every lifecycle action names the person acting by
external id (``asker`` here); the core checks that this person may do it (403 otherwise).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from pydantic import AfterValidator, Field, StrictBool, StrictInt

from askaround.api.dependencies import NetworkDep, NowDep, ReadNetworkDep, ServicesDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import Body, ExternalIdText, Id, PlainDigits, storable
from askaround.api.pages import Limit
from askaround.api.question_models import AskedQuestionOut, QuestionList
from router.lifecycle import questions
from router.lifecycle.retries import MAX_KEY_CHARS
from router.lifecycle.states import QuestionStatus
from router.lifecycle.views import QuestionHistory, QuestionView
from router.network.people import get_person

router = APIRouter(prefix="/v1/questions", tags=["questions"], responses=DATA_ERRORS)

MAX_OFFSET = 1_000_000


class QuestionIn(Body):
    question: Annotated[str, AfterValidator(storable)] = Field(
        max_length=100_000,
        description="The question; 1 to `max_question_chars` (default 40,000) characters.",
    )
    asker: ExternalIdText = Field(description="Who asks, by external id; must be in the network.")
    k: StrictInt | None = Field(
        default=None, description="How many people to ask, 1 to `max_k`; default 3."
    )
    anonymous: StrictBool = Field(
        default=False, description="Hide the asker's name from the people asked."
    )


class CloseIn(Body):
    asker: ExternalIdText = Field(description="The asker, by external id: only they can close.")


REPLAYED = "Idempotent-Replayed"
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=f"Makes the request safe to retry: 1 to {MAX_KEY_CHARS} printable ASCII "
        "characters, "
        "a new one (a UUID) per question. The same key with the same body returns the "
        f"question it created (`{REPLAYED}: true`) and asks nobody again; with another body, 409.",
    ),
]


@router.post(
    "",
    response_model=AskedQuestionOut,
    status_code=201,
    responses={
        201: {
            "headers": {
                REPLAYED: {
                    "description": "`true` when an earlier request with the same "
                    "`Idempotency-Key` created the question returned",
                    "schema": {"type": "string"},
                }
            }
        }
    },
)
def ask_question(
    body: QuestionIn,
    network_id: NetworkDep,
    session: SessionDep,
    services: ServicesDep,
    now: NowDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> AskedQuestionOut:
    """Store a question, route it and ask the best people (messages go out through the outbox).

    A replay (same `Idempotency-Key`, same body) answers 201 like the request that created
    the question, so a client's retry needs no second path; the header tells them apart.
    """
    asker = get_person(session, network_id=network_id, external_id=body.asker)
    asked = questions.ask_question(
        session,
        router=services.router,
        settings=services.settings,
        network_id=network_id,
        asker_id=asker.id,
        text=body.question,
        k=body.k,
        anonymous=body.anonymous,
        now=now,
        idempotency_key=idempotency_key,
    )
    if asked.replayed:
        response.headers[REPLAYED] = "true"
    return AskedQuestionOut.of(asked)


@router.get("", response_model=QuestionList)
def list_questions(
    network_id: ReadNetworkDep,
    session: SessionDep,
    limit: Limit = 50,
    offset: Annotated[
        int, PlainDigits, Query(ge=0, le=MAX_OFFSET, description="Questions to skip.")
    ] = 0,
    status: Annotated[
        QuestionStatus | None,
        Query(description="Only questions in this state."),
    ] = None,
    asker: Annotated[
        ExternalIdText | None, Query(description="Only this person's questions.")
    ] = None,
) -> QuestionList:
    """The network's questions, newest first."""
    asker_id = get_person(session, network_id=network_id, external_id=asker).id if asker else None
    views = questions.list_questions(
        session, network_id=network_id, asker_id=asker_id, status=status, limit=limit, offset=offset
    )
    return QuestionList(
        items=views,
        next_offset=offset + limit if len(views) == limit else None,
    )


@router.get("/{question_id}", response_model=QuestionHistory)
def get_question(
    question_id: Id, network_id: ReadNetworkDep, session: SessionDep
) -> QuestionHistory:
    """A question with its asks, answers, and every state change that led there."""
    return questions.question_history(session, network_id=network_id, question_id=question_id)


@router.post("/{question_id}/close", response_model=QuestionView)
def close_question(
    question_id: Id, body: CloseIn, network_id: NetworkDep, session: SessionDep, now: NowDep
) -> QuestionView:
    """The asker closes the question; people still asked are told they are no longer needed."""
    asker = get_person(session, network_id=network_id, external_id=body.asker)
    view = questions.close_question(
        session, network_id=network_id, question_id=question_id, person_id=asker.id, now=now
    )
    return view
