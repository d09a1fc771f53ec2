"""``POST /v1/route``: who to ask and why, as a preview; nobody is contacted, nothing is stored."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, Field, StrictInt

from askaround.api.dependencies import NowDep, ReadNetworkDep, ServicesDep, SessionDep
from askaround.api.errors import DATA_ERRORS
from askaround.api.fields import Body, ExternalIdText, storable
from router.ledger.fairness import fairness_policy
from router.network.people import find_person
from router.routing.reuse import PastAnswer
from router.routing.route import Candidate, Route

router = APIRouter(prefix="/v1", tags=["route"], responses=DATA_ERRORS)


class RouteOut(BaseModel):
    """The route as the API returns it: the core's candidates and past answers in one envelope
    (the core's own values, not copies; only the envelope is the API's)."""

    intent: str = Field(
        default="ask",
        description="`ask`: people to ask; `contacts`: the answer to 'who do I know at X?' "
        "(candidates are the people there, each with how you know them).",
    )
    answers: list[PastAnswer] = Field(
        default_factory=list,
        description="Past answers close to the question, best first: if one answers it, "
        "`POST /v1/reuses` credits its author and nobody needs to be asked.",
    )
    candidates: list[Candidate]
    adjusted: bool = Field(description="Fairness (ledger, load) changed the order.")
    notes: list[str]
    ranked_by: str = Field(
        description="The model that ranked the candidates: `pretrained-…` (shipped), "
        "`adapted-…` (this network's own) or `hand-set` (no model available)."
    )

    @classmethod
    def of(cls, route: Route, answers: tuple[PastAnswer, ...] = ()) -> RouteOut:
        return cls(
            intent=route.intent,
            answers=list(answers),
            candidates=list(route.candidates),
            adjusted=route.adjusted,
            notes=list(route.notes),
            ranked_by=route.ranked_by,
        )


class RouteIn(Body):
    question: Annotated[str, AfterValidator(storable)] = Field(
        max_length=100_000,
        description="The question; 1 to `max_question_chars` (default 40,000) characters.",
    )
    asker: ExternalIdText | None = Field(
        default=None,
        description="Who asks, by external id; unknown to the network means a newcomer, no ties.",
    )
    k: StrictInt | None = Field(
        default=None, description="How many people, 1 to `max_k` (default 50); default 3."
    )


@router.post("/route", response_model=RouteOut, response_model_exclude_none=True)
def route(
    body: RouteIn,
    network_id: ReadNetworkDep,
    session: SessionDep,
    services: ServicesDep,
    now: NowDep,
) -> RouteOut:
    """The best people to ask, each with the reasons (evidence, ties, activity) that picked them."""
    settings = services.settings
    k = settings.default_k if body.k is None else body.k
    question = services.router.validate(question=body.question, k=k)
    asker = (
        find_person(session, network_id=network_id, external_id=body.asker) if body.asker else None
    )
    result = services.router.route(
        session,
        network_id=network_id,
        question=question,
        asker_id=asker.id if asker is not None else None,
        k=k,
        now=now,
        policy=fairness_policy(settings),
    )
    answers = (
        services.answers.find(session, network_id=network_id, question=question)
        if result.intent == "ask"
        else ()
    )
    return RouteOut.of(result, answers)
