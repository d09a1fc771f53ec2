"""``/respond/{token}``: the small page an emailed ask links to — answer, pass, or not my area.

No account and no script: the signed link says who may act on which ask, a plain form posts the
choice, and the core does the rest (the answer reaches the asker through the outbox). Each
action works once because the ask does: an ask already answered or passed says so.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session

from askaround.api.dependencies import NowDep, ServicesDep, SessionDep
from askaround.api.indexing import refresh_after_commit
from router.delivery.links import AskLink, read_ask_link
from router.errors import AskaroundError, Conflict, InvalidInput
from router.lifecycle.questions import answer_ask, decline_ask, pass_ask
from router.storage.schema import Ask, Person, Question

router = APIRouter(include_in_schema=False)

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the link is the credential: never leak it onwards
    "Cache-Control": "no-store",
}
MAX_FORM_BYTES = 64_000
DONE = {
    "answered": "You answered this question. Thank you: your answer went to the asker.",
    "passed": "You passed on this one. Thanks for saying so.",
    "declined": "Noted: not your area. Questions like this will reach you less.",
    "expired": "This question is closed; no answer is needed any more.",
}


def _page(title: str, body: str, *, status: int = 200) -> Response:
    document = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)} · Askaround</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; }}
blockquote {{ border-left: 3px solid #888; margin: 1rem 0; padding: .25rem 1rem; }}
textarea {{ width: 100%; min-height: 8rem; font: inherit; }}
button {{ font: inherit; padding: .4rem .9rem; margin: .5rem .5rem 0 0; }}
</style></head>
<body><h1>{html.escape(title)}</h1>{body}</body></html>"""
    return Response(
        document, status_code=status, media_type="text/html; charset=utf-8", headers=HEADERS
    )


def _load(session: Session, link: AskLink) -> tuple[Ask, Question, str]:
    ask = session.get(Ask, link.ask_id)
    if ask is None or ask.network_id != link.network_id or ask.person_id != link.person_id:
        raise InvalidInput("this link no longer points at a question")
    question = session.get(Question, ask.question_id)
    assert question is not None
    asker = session.get(Person, question.asker_id)
    name = "Someone" if question.anonymous or asker is None else asker.display_name
    return ask, question, name


def _form(token: str, ask: Ask, question: Question, asker: str) -> str:
    quoted = html.escape(question.text).replace("\n", "<br>")
    if ask.status != "pending" or question.status != "open":
        state = ask.status if ask.status != "pending" else "expired"
        note = DONE.get(state, "This question no longer needs an answer.")
        return f"<p>{html.escape(asker)} asked:</p><blockquote>{quoted}</blockquote><p>{note}</p>"
    action = f"/respond/{html.escape(token)}"
    return f"""<p>{html.escape(asker)} asked:</p><blockquote>{quoted}</blockquote>
<form method="post" action="{action}">
<label for="text">Your answer</label>
<textarea id="text" name="text" maxlength="20000"></textarea>
<div><button type="submit" name="action" value="answer">Send answer</button>
<button type="submit" name="action" value="pass">Pass</button>
<button type="submit" name="action" value="decline">Not my area</button></div>
</form>"""


def _refused(exc: AskaroundError) -> Response:
    status = 410 if "expired" in str(exc) else 403
    return _page("This link does not work", f"<p>{html.escape(str(exc))}.</p>", status=status)


@router.get("/respond/{token}")
def show(token: str, session: SessionDep, services: ServicesDep, now: NowDep) -> Response:
    """The question and the three choices (or what was already done)."""
    try:
        link = read_ask_link(token, secret=services.settings.link_secret, now=now)
        ask, question, asker = _load(session, link)
    except AskaroundError as exc:
        return _refused(exc)
    return _page("A question for you", _form(token, ask, question, asker))


@router.post("/respond/{token}")
async def act(
    token: str, request: Request, session: SessionDep, services: ServicesDep, now: NowDep
) -> Response:
    """Answer, pass, or not my area; a second action on the same ask changes nothing."""
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        return _page("Too long", "<p>That answer is too long to send here.</p>", status=413)
    form = {key: values[0] for key, values in parse_qs(raw.decode("utf-8", "replace")).items()}
    try:
        link = read_ask_link(token, secret=services.settings.link_secret, now=now)
        ask, question, asker = _load(session, link)
    except AskaroundError as exc:
        return _refused(exc)
    if ask.status != "pending":
        return _page("Already done", _form(token, ask, question, asker), status=409)
    ids = {"network_id": link.network_id, "ask_id": link.ask_id, "person_id": link.person_id}
    choice = form.get("action")
    try:
        with session.begin_nested():  # a refusal undoes whatever the action wrote first
            if choice == "answer":
                answer_ask(
                    session,
                    network_id=link.network_id,
                    ask_id=link.ask_id,
                    person_id=link.person_id,
                    text=form.get("text", ""),
                    now=now,
                )
            elif choice == "pass":
                pass_ask(session, now=now, **ids)
            elif choice == "decline":
                decline_ask(session, now=now, **ids)
                refresh_after_commit(session, services=services, network_id=link.network_id)
            else:
                raise InvalidInput("choose answer, pass or not my area")
    except Conflict:
        session.refresh(ask)
        return _page("Already done", _form(token, ask, question, asker), status=409)
    except AskaroundError as exc:
        return _page("That did not work", f"<p>{html.escape(str(exc))}.</p>", status=400)
    session.flush()
    session.refresh(ask)
    return _page("Thank you", _form(token, ask, question, asker))
