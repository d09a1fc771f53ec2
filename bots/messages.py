"""Block Kit for the core's values: a route and its reasons, a ledger page, a summary, the modal.

Every function returns plain dicts (``{"text": fallback, "blocks": [...]}`` for messages, a view
for modals and the Home tab) and reads only values, never the database or Slack.
Text from people is escaped (``escape``, the one place), so an answer cannot @-mention the whole
channel and what someone typed comes back without characters Slack cannot show.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bots.subcommands import USAGE
from router.errors import InvalidInput
from router.ledger.favours import Debt, PersonLedger
from router.routing.route import Candidate, Route
from router.storage.schema.base import MAX_ID
from router.storage.text import scrubbed

Block = dict[str, Any]
Message = dict[str, Any]

# action ids, one per button; the value of each is the id of the ask or answer it acts on
ANSWER = "askaround_answer"
PASS = "askaround_pass"
DECLINE = "askaround_decline"
SNOOZE_ME = "askaround_snooze"
HELPFUL = "askaround_helpful"
THANKS = "askaround_thanks"
CLOSE = "askaround_close"
CLOSE_FROM_RECEIPT = "askaround_close_receipt"
CONNECT = "askaround_connect"
SHARE = "askaround_share"
ASK_ACTIONS = (ANSWER, PASS, DECLINE, SNOOZE_ME)
ANSWER_ACTIONS = (HELPFUL, THANKS)

ANSWER_MODAL = "askaround_answer_modal"
ANSWER_BLOCK = "answer"
ANSWER_INPUT = "text"
MAX_ANSWER_CHARS = 3000
SECTION_CHARS = 2900  # Slack allows 3000 per section text
SNOOZE_ME_DAYS = 7


def escape(text: str) -> str:
    """People's text as shown back to them: Slack's three control characters escaped, so it is
    never interpreted, and what cannot be shown (NUL, lone surrogates) dropped as the core does."""
    return scrubbed(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """Slack link markup ``<url|label>``, or nothing when ``url`` is not a plain http(s) address:
    a stored link with ``|``, ``<``, ``>`` or a space in it would end the markup and carry the
    rest (a ``<!channel>``, say) live into the message."""
    plain = url.startswith(("https://", "http://")) and not any(
        ch in "|<>" or ch.isspace() for ch in url
    )
    return f"<{url}|{escape(label)}>" if plain else ""


def clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quote(text: str, limit: int = SECTION_CHARS) -> str:
    return "\n".join("> " + line for line in clip(escape(text), limit).splitlines() or [""])


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, SECTION_CHARS)}}


def context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(t, 2000)} for t in texts[:10]],
    }


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def actions(*elements: dict[str, Any], block_id: str = "actions") -> Block:
    return {"type": "actions", "block_id": block_id, "elements": list(elements)}


def when(moment: datetime) -> str:
    """A time Slack shows in each reader's own timezone."""
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def plain(text: str) -> Message:
    return {"text": text, "blocks": [section(text)]}


# --- /ask replies --------------------------------------------------------------------------


def help_message(note: str | None = None) -> Message:
    text = f"{note}\n\n{USAGE}" if note else USAGE
    return {"text": text, "blocks": [section(text)]}


def error_message(reason: str) -> Message:
    return {"text": reason, "blocks": [section(f":warning: {reason}")]}


def because(candidate: Candidate) -> str:
    return escape(candidate.because())


SKIPPED_NOTE = (
    "a better match was not asked:"  # the router's note for each person fairness left out
)


def distinct_notes(notes: tuple[str, ...] | list[str]) -> list[str]:
    """Each note once, with how many times it applied ("3 better matches were not asked: ...")."""
    counts: dict[str, int] = {}
    for note in notes:
        counts[note] = counts.get(note, 0) + 1
    shown = []
    for note, count in counts.items():
        if count > 1 and note.startswith(SKIPPED_NOTE):
            note = f"{count} better matches were not asked:" + note.removeprefix(SKIPPED_NOTE)
        elif count > 1:
            note = f"{note} (×{count})"
        shown.append(note)
    return shown


def route_reply(
    route: Route,
    *,
    anonymous: bool,
    asked_ids: dict[int, str] | None = None,
    retry_at: datetime | None = None,
) -> Message:
    """The asker's receipt: who was asked and why (or why nobody was, and when I look again)."""
    question = quote(route.question, 500)
    notes = distinct_notes(route.notes)
    if not route.candidates:
        why = escape("; ".join(notes)) or "nobody matched"
        if retry_at is not None:
            text = (
                f"Nobody fits right now ({why}), so nothing was sent yet. I'll look again "
                f"{when(retry_at)} and tell you whom I ask."
            )
        else:
            text = f"I couldn't find anyone to ask ({why}). Nothing was sent."
        return {"text": text, "blocks": [section(f"{question}\n{text}")]}
    lines = []
    for candidate in route.candidates:
        who = _mention(candidate, asked_ids)
        lines.append(f"• {who}: {because(candidate)}")
    who_asks = "without saying who asks" if anonymous else "on your behalf"
    head = f"I asked {len(route.candidates)} {'person' if len(route.candidates) == 1 else 'people'} {who_asks}:"
    note_blocks = [context(escape(note)) for note in notes]
    text = head + "\n" + "\n".join(lines)
    return {
        "text": text,
        "blocks": [
            section(question),
            section(text),
            *note_blocks,
            context("Answers come to you as a DM."),
        ],
    }


def _mention(candidate: Candidate, asked_ids: dict[int, str] | None) -> str:
    slack_id = (asked_ids or {}).get(candidate.person_id)
    return f"<@{slack_id}>" if slack_id else f"*{escape(candidate.name)}*"


def balance_message(page: PersonLedger) -> Message:
    """``/ask balance``: totals, and the people on each side of the ledger."""
    totals = page.totals
    head = (
        f"*Your ledger*: you gave {totals.given_count} answer{'s' * (totals.given_count != 1)} "
        f"and received {totals.received_count} (balance {totals.balance:+.2f})."
    )
    blocks = [section(head)]
    if page.owes:
        blocks.append(section("*You owe*\n" + _debts(page.owes, you_owe=True)))
    if page.owed_by:
        blocks.append(section("*Owe you*\n" + _debts(page.owed_by, you_owe=False)))
    if not page.owes and not page.owed_by:
        blocks.append(context("Nobody owes anybody yet: ask or answer a question to start."))
    return {"text": head, "blocks": blocks}


def _debts(debts: tuple[Debt, ...], *, you_owe: bool, limit: int = 10) -> str:
    lines = []
    for debt in debts[:limit]:
        if you_owe:
            detail = f"answered you {debt.their_count}×, you answered them {debt.your_count}×"
        else:
            detail = f"you answered them {debt.your_count}×, they answered you {debt.their_count}×"
        lines.append(f"• *{escape(debt.name)}*: {debt.net:.2f} ({detail})")
    if len(debts) > limit:
        lines.append(f"… and {len(debts) - limit} more")
    return "\n".join(lines)


def interests_message(topics: list[str]) -> Message:
    if not topics:
        text = "You have no interests listed. Add some: `/ask interests add sourdough, kubernetes`."
    else:
        text = "*Your interests*\n" + "\n".join(f"• {escape(t)}" for t in topics)
    return plain(text)


# --- the answer modal ----------------------------------------------------------------------


def answer_modal(*, ask_id: int, question: str, origin: str) -> dict[str, Any]:
    """The modal the Answer button opens; ``origin`` ("channel:ts") lets the DM be updated."""
    return {
        "type": "modal",
        "callback_id": ANSWER_MODAL,
        "private_metadata": f"{ask_id}|{origin}",
        "title": {"type": "plain_text", "text": "Answer"},
        "submit": {"type": "plain_text", "text": "Send answer"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            section(quote(question, 2000)),
            {
                "type": "input",
                "block_id": ANSWER_BLOCK,
                "label": {"type": "plain_text", "text": "Your answer"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": ANSWER_INPUT,
                    "multiline": True,
                    "max_length": MAX_ANSWER_CHARS,
                },
            },
        ],
    }


def parse_id(value: str) -> int | None:
    """The id one of our buttons or forms carries, or None when it cannot be one of ours: not
    ASCII digits ("²".isdigit() is True) or beyond any stored id (forged, or not Askaround's)."""
    if not value.isascii() or not value.isdigit() or len(value) > len(str(MAX_ID)):
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


def parse_modal_metadata(metadata: str) -> tuple[int, str | None, str | None]:
    """The ask id and the DM (channel, ts) an answer modal was opened from."""
    ask, _, origin = metadata.partition("|")
    channel, _, ts = origin.partition(":")
    ask_id = parse_id(ask)
    if ask_id is None:
        raise InvalidInput(
            "This answer form is out of date. Close it and press Answer on the question again."
        )
    return ask_id, channel or None, ts or None
