"""Where first-time answerers come from: could questions or comments put them in a pool?

For each site (the data README's protocol: cutoff at the 80th-percentile question), the test
cases' true answerers who had never answered before the question, and how many of them had asked
a question or written a comment before the cutoff (the history a network would hold).

    .venv/bin/python -m benchmarks.first_answerers [SITE_DIR ...]
"""

from __future__ import annotations

import argparse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from benchmarks.real_rows import DEFAULT_SITES, SITES


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if not path.is_file():
        return
    for _, element in ET.iterparse(path):
        if element.tag == "row":
            yield dict(element.attrib)
            element.clear()


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text[:19])


def _first(events: list[tuple[datetime, str]]) -> dict[str, datetime]:
    first: dict[str, datetime] = {}
    for when, who in events:
        if who not in first or when < first[who]:
            first[who] = when
    return first


def measure(folder: Path) -> str:
    """One line: answerer-cases, first-time answerers, and how many had asked or commented."""
    posts = list(_rows(folder / "Posts.xml"))
    questions = sorted(
        (p for p in posts if p.get("PostTypeId") == "1"), key=lambda p: p["CreationDate"]
    )
    cutoff = _when(questions[int(0.8 * len(questions))]["CreationDate"])
    answers = [
        (_when(p["CreationDate"]), p["OwnerUserId"], p.get("ParentId", ""))
        for p in posts
        if p.get("PostTypeId") == "2" and p.get("OwnerUserId")
    ]
    answered = _first([(when, who) for when, who, _ in answers])
    asked = _first(
        [(_when(q["CreationDate"]), q["OwnerUserId"]) for q in questions if q.get("OwnerUserId")]
    )
    commented = _first(
        [
            (_when(c["CreationDate"]), c["UserId"])
            for c in _rows(folder / "Comments.xml")
            if c.get("UserId")
        ]
    )
    asked_at = {q["Id"]: _when(q["CreationDate"]) for q in questions}
    owner = {q["Id"]: q.get("OwnerUserId") for q in questions}
    never, cases, new, before = datetime.max, 0, 0, {"asked": 0, "commented": 0, "either": 0}
    for _, who, parent in answers:
        at = asked_at.get(parent)
        if at is None or at < cutoff or who == owner.get(parent):
            continue
        cases += 1
        if answered.get(who, never) < at:
            continue
        new += 1
        did_ask = asked.get(who, never) < cutoff
        did_comment = commented.get(who, never) < cutoff
        before["asked"] += did_ask
        before["commented"] += did_comment
        before["either"] += did_ask or did_comment
    share = before["either"] / max(new, 1)
    return (
        f"{folder.name:14s} answers to test questions {cases}, by first-time answerers {new} "
        f"({new / max(cases, 1):.0%}); of those, asked before the cutoff {before['asked']}, "
        f"commented {before['commented']}, either {before['either']} ({share:.0%}); "
        f"comments in the dump {sum(1 for _ in _rows(folder / 'Comments.xml'))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sites", nargs="*", type=Path, default=[SITES / s for s in DEFAULT_SITES])
    args = parser.parse_args()
    for folder in args.sites:
        print(measure(folder))


if __name__ == "__main__":
    main()
