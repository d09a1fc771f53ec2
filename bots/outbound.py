"""Block Kit for the core's outbound messages, by kind; the payloads are the core's plain data.

ask        the DM to a person picked for a question, with Answer / Pass / Not my area / Snooze
closed     the question an ask was about is finished; the ask DM is no longer needed
answer     an answer relayed to the asker, with Helpful / Thanks (threaded per question)
escalated  the asker hears that more people are being asked (threaded)
expired    the asker hears that the question expired (threaded)
helpful    the answerer hears their answer helped
thanks     the answerer hears they were thanked
summary    the weekly "favours owed" DM
answer_not_given  the answerer hears why their answer could not be given, their words quoted back
"""

from __future__ import annotations

from typing import Any

from bots.messages import (
    ANSWER,
    CLOSE,
    CONNECT,
    DECLINE,
    HELPFUL,
    PASS,
    SHARE,
    SNOOZE_ME,
    THANKS,
    Block,
    Message,
    actions,
    button,
    clip,
    context,
    escape,
    quote,
    section,
)
from router.delivery.channels import OutboundMessage

# reasons that read right to the person asked (social and fairness ones speak to the asker)
YOUR_REASONS = frozenset({"evidence", "activity"})

FOLLOWUP = "followup"  # a thread reply relayed between the asker and who answered (bots.replies)
REMINDER = "reminder"  # one gentle nudge in an ask's thread before escalation (lifecycle.hours)
ANSWER_NOT_GIVEN = "answer_not_given"  # an acknowledged answer refused after the ack (bots.views)

# messages about a question: threaded under the asker's first one (a follow-up to the person
# who answered: under their ask DM)
THREADED_KINDS = frozenset({"answer", "escalated", "expired", FOLLOWUP, REMINDER})
# threaded under the recipient's ask DM, never the root of a question's thread
ASK_THREAD_KINDS = frozenset({FOLLOWUP, REMINDER})


def render(message: OutboundMessage) -> Message:
    """The Slack message for one outbox message."""
    payload = message.payload
    renderer = _RENDERERS.get(message.kind, _generic)
    return renderer(payload)


def ask_blocks(payload: dict[str, Any]) -> list[Block]:
    """The ask without its buttons (also what an updated ask DM keeps showing)."""
    asker = payload.get("asker")
    who = f"*{escape(str(asker))}* asks:" if asker else "Someone (anonymously) asks:"
    blocks = [section(f"{who}\n{quote(str(payload.get('question', '')))}")]
    reasons = [
        r
        for r in payload.get("reasons") or []
        if isinstance(r, dict) and r.get("text") and r.get("kind") in YOUR_REASONS
    ]
    if reasons:
        lines = "\n".join(f"• {escape(str(r['text']))}" for r in reasons[:5])
        blocks.append(section(f"*Why you*\n{lines}"))
    favours = payload.get("favours")
    if isinstance(favours, str) and favours:
        blocks.append(context(escape(favours)))
    return blocks


def _ask(payload: dict[str, Any]) -> Message:
    ask_id = str(payload.get("ask_id", ""))
    asker = payload.get("asker")
    question = escape(clip(str(payload.get("question", "")), 200))
    text = f"{escape(str(asker)) if asker else 'Someone'} asks: {question}"
    buttons = actions(
        button("Answer", ANSWER, ask_id, style="primary"),
        button("Pass", PASS, ask_id),
        button("Not my area", DECLINE, ask_id),
        button("Snooze me", SNOOZE_ME, ask_id),
        block_id=f"ask:{ask_id}",
    )
    hint = context("Reply in this thread to answer, or press Answer for a longer one.")
    return {"text": text, "blocks": [*ask_blocks(payload), buttons, hint]}


def ask_done(payload: dict[str, Any], note: str) -> Message:
    """The ask DM after someone acted on it: the ask as it was, the buttons replaced by a note."""
    text = f"{escape(clip(str(payload.get('question', '')), 150))}: {note}"
    return {"text": text, "blocks": [*ask_blocks(payload), context(note)]}


def closed_note(payload: dict[str, Any]) -> str:
    reason = str(payload.get("reason") or "closed")
    if reason == "closed":
        return "Answered, thanks. No answer needed any more: the asker closed the question."
    return f"No answer needed any more: the question was {reason}."


def _closed(payload: dict[str, Any]) -> Message:
    text = closed_note(payload)
    return {
        "text": text,
        "blocks": [section(f"{quote(str(payload.get('question', '')), 500)}\n{escape(text)}")],
    }


def answer_blocks(payload: dict[str, Any]) -> list[Block]:
    name = escape(str(payload.get("answerer") or payload.get("answerer_name") or "Someone"))
    return [
        section(
            f"*{name}* answered your question:\n{quote(str(payload.get('question', '')), 300)}"
        ),
        section(escape(str(payload.get("answer") or payload.get("text") or ""))),
    ]


def answer_buttons(
    answer_id: str, *, helpful: bool = False, thanked: bool = False, closed: bool = False
) -> list[Block]:
    elements = []
    if not helpful:
        elements.append(button("Helpful", HELPFUL, answer_id, style="primary"))
    if not thanked:
        elements.append(button("Thanks", THANKS, answer_id))
    if not closed:
        elements.append(button("Close question", CLOSE, answer_id))
    elements.append(button("Connect us", CONNECT, answer_id))
    elements.append(button("Share to channel", SHARE, answer_id))
    done = [
        t
        for t, flag in (
            ("You marked it helpful.", helpful),
            ("You said thanks.", thanked),
            ("You closed the question.", closed),
        )
        if flag
    ]
    blocks: list[Block] = []
    if elements:
        blocks.append(actions(*elements, block_id=f"answer:{answer_id}"))
    if done:
        blocks.append(context(" ".join(done)))
    return blocks


def _answer(payload: dict[str, Any]) -> Message:
    answer_id = str(payload.get("answer_id", ""))
    name = escape(str(payload.get("answerer") or payload.get("answerer_name") or "Someone"))
    said = escape(clip(str(payload.get("answer") or payload.get("text") or ""), 200))
    text = f"{name} answered: {said}"
    return {"text": text, "blocks": [*answer_blocks(payload), *answer_buttons(answer_id)]}


def answer_update(
    payload: dict[str, Any], *, helpful: bool, thanked: bool, closed: bool = False
) -> Message:
    """The relayed answer after Helpful, Thanks or Close: the buttons left, and what was done."""
    answer_id = str(payload.get("answer_id", ""))
    blocks = [
        *answer_blocks(payload),
        *answer_buttons(answer_id, helpful=helpful, thanked=thanked, closed=closed),
    ]
    return {"text": _answer(payload)["text"], "blocks": blocks}


def _followup(payload: dict[str, Any]) -> Message:
    who = escape(str(payload.get("sender") or "Someone"))
    said = escape(str(payload.get("text") or ""))
    text = f"{who} follows up: {escape(clip(str(payload.get('text') or ''), 200))}"
    return {
        "text": text,
        "blocks": [
            section(f"*{who}* follows up on:\n{quote(str(payload.get('question', '')), 300)}"),
            section(said),
            context("Reply in this thread to answer back."),
        ],
    }


def _escalated(payload: dict[str, Any]) -> Message:
    names = [escape(str(n)) for n in payload.get("asked") or []]
    who = f": {', '.join(names)}" if names else ""
    text = f"Nobody has answered yet, so I asked more people{who}."
    question = quote(str(payload.get("question", "")), 500)
    return {"text": text, "blocks": [section(f"{question}\n{text}")]}


def _expired(payload: dict[str, Any]) -> Message:
    answers = int(payload.get("answers") or 0)
    if answers:
        text = f"Your question has closed with {answers} answer{'s' * (answers != 1)}."
    else:
        text = "Your question expired without an answer. Try asking it differently, or add detail."
    question = quote(str(payload.get("question", "")), 500)
    return {"text": text, "blocks": [section(f"{question}\n{text}")]}


def _credited(payload: dict[str, Any], what: str) -> Message:
    who = escape(str(payload.get("asker") or "Someone"))
    text = f"{who} {what}."
    return {
        "text": text,
        "blocks": [section(f"{text}\n{quote(str(payload.get('question', '')), 300)}")],
    }


def _helpful(payload: dict[str, Any]) -> Message:
    return _credited(payload, "found your answer helpful")


def _thanks(payload: dict[str, Any]) -> Message:
    return _credited(payload, "thanks you for your answer")


def _owing_lines(entries: list[dict[str, Any]], limit: int = 5) -> str:
    lines = [
        f"• *{escape(str(e.get('name')))}*: {float(e.get('net') or 0):g} "
        f"(answered you {e.get('they_answered', 0)}×, you answered them {e.get('you_answered', 0)}×)"
        for e in entries[:limit]
    ]
    if len(entries) > limit:
        lines.append(f"… and {len(entries) - limit} more")
    return "\n".join(lines)


def _summary(payload: dict[str, Any]) -> Message:
    """The weekly "favours owed" DM from the summary values (the core's text as fallback)."""
    data = payload.get("summary") or {}
    week = escape(str(payload.get("week") or data.get("week") or ""))
    given = data.get("given_week") or {}
    got = data.get("received_week") or {}
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Your Askaround week {week}"}},
        section(
            f"You answered *{given.get('count', 0)}* question{'s' * (given.get('count', 0) != 1)} "
            f"and got *{got.get('count', 0)}* answer{'s' * (got.get('count', 0) != 1)}."
        ),
    ]
    if data.get("owes"):
        blocks.append(section("*You owe*\n" + _owing_lines(list(data["owes"]))))
    if data.get("owed_by"):
        blocks.append(section("*Owe you*\n" + _owing_lines(list(data["owed_by"]))))
    waiting = list(data.get("waiting") or [])
    if waiting:
        lines = "\n".join(f"• {escape(clip(str(w.get('question')), 120))}" for w in waiting[:5])
        blocks.append(section(f"*Still waiting for your answer*\n{lines}"))
    unanswered = list(data.get("unanswered") or [])
    if unanswered:
        lines = "\n".join(f"• {escape(clip(str(q.get('text')), 120))}" for q in unanswered[:5])
        blocks.append(section(f"*Your questions without an answer yet*\n{lines}"))
    blocks.append(context("Sent on Monday mornings. `/ask balance` shows your ledger any time."))
    text = escape(clip(str(payload.get("text") or f"Your Askaround week {week}"), 3000))
    return {"text": text, "blocks": blocks}


def _generic(payload: dict[str, Any]) -> Message:
    text = str(payload.get("text") or payload.get("question") or "Askaround has news for you.")
    return {"text": escape(clip(text, 3000)), "blocks": [section(escape(text))]}


def _reminder(payload: dict[str, Any]) -> Message:
    text = (
        "A gentle reminder: this question is still waiting for an answer. If it's not for you, "
        "Pass is a fine answer too."
    )
    return {"text": text, "blocks": [section(text)]}


def _answer_not_given(payload: dict[str, Any]) -> Message:
    """The modal closed before the answer was refused: say why and give the words back."""
    question = str(payload.get("question") or "")
    about = f' to "{escape(clip(question, 200))}"' if question else ""
    reason = str(payload.get("reason") or "it could no longer be given").strip()
    reason = reason[:1].upper() + reason[1:] + ("" if reason.endswith((".", "!", "?")) else ".")
    head = f"Sorry, your answer{about} could not be given. {escape(clip(reason, 300))}"
    answer = str(payload.get("answer") or "")
    return {
        "text": head,
        "blocks": [
            section(head),
            section(f"Here is what you wrote, so it is not lost:\n{quote(answer, 2800)}"),
        ],
    }


_RENDERERS = {
    ANSWER_NOT_GIVEN: _answer_not_given,
    REMINDER: _reminder,
    "ask": _ask,
    "closed": _closed,
    "answer": _answer,
    "escalated": _escalated,
    FOLLOWUP: _followup,
    "expired": _expired,
    "helpful": _helpful,
    "thanks": _thanks,
    "summary": _summary,
}
