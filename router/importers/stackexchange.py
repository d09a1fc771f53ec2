"""A Stack Exchange dump folder (``Posts.xml``, ``Users.xml``) as a network.

Each answer becomes evidence of what its author knows (the parent question's title and tags as
context); every asker and answerer becomes a person ``se:<UserId>``; an answer is a tie, the
answerer having helped the asker. ``until`` keeps only posts created strictly before it, which is
how a site is replayed for evaluation.

The dump is read twice, streaming: a first pass checks every row and collects the questions (a
malformed file fails there), a second pass turns the kept posts into a ``Site``; both run
before any database work, and ``write_site`` then writes in a few bulk statements. Reading uses expat
directly rather than ``ElementTree.iterparse`` because errors must name the line of the bad row.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from xml.parsers import expat

from sqlalchemy.orm import Session

from router.errors import ImportFormatError, InvalidInput
from router.importers import ImportReport
from router.importers.site import Site, SiteAnswer, SiteProfile, write_site
from router.progress import Progress, silent
from router.question_text import visible

SOURCE = "stackexchange"
QUESTION = 1
ANSWER = 2
MAX_TEXT_CHARS = 4000  # past the model's 256 tokens; enough for BM25 and a snippet
PROGRESS_EVERY = 100
_CHUNK = 1 << 16
_TAG = re.compile(r"[^<>|]+")
_SPACE = re.compile(r"\s+")
_BLOCK_TAG = re.compile(r"p|br|li|ul|ol|pre|blockquote|div|h[1-6]|hr|tr|td|th|table")


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if _BLOCK_TAG.fullmatch(tag):
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if _BLOCK_TAG.fullmatch(tag):
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def strip_html(html: str, *, limit: int | None = None) -> str:
    """The text of a post body on one line; cut at a word boundary past ``limit`` characters."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    text = _SPACE.sub(" ", "".join(parser.parts)).strip()
    if limit is not None and len(text) > limit:
        cut = text.rfind(" ", 0, limit)
        text = text[: cut if cut > limit // 2 else limit].rstrip() + " …"
    return text


def parse_tags(value: str) -> tuple[str, ...]:
    """``<beer><hops>`` (older dumps) or ``|beer|hops|`` (newer ones) as ``("beer", "hops")``."""
    return tuple(tag for tag in _TAG.findall(value) if tag.strip())


@dataclass(frozen=True)
class Post:
    """One row of ``Posts.xml`` that matters here: a question or an answer (body still HTML)."""

    id: int
    type_id: int
    created_at: datetime
    owner_id: int | None
    parent_id: int | None
    accepted_answer_id: int | None
    title: str
    tags: tuple[str, ...]
    body: str

    @property
    def is_question(self) -> bool:
        return self.type_id == QUESTION


@dataclass(frozen=True)
class User:
    id: int
    name: str
    created_at: datetime
    about: str


def _int(attrs: dict[str, str], key: str, *, required: bool = False) -> int | None:
    value = attrs.get(key)
    if value is None or value == "":
        if required:
            raise ValueError(f"missing {key}")
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{key} {value!r} is not a number") from None


def _date(attrs: dict[str, str], key: str) -> datetime:
    value = attrs.get(key)
    if not value:
        raise ValueError(f"missing {key}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{key} {value!r} is not an ISO timestamp") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _rows(path: Path, root: str, progress: Progress) -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, attributes)`` of each ``<row>`` under ``<root>``, streamed; errors name the line."""
    if not path.is_file():
        raise ImportFormatError(str(path), None, "file not found")
    parser = expat.ParserCreate()
    pending: list[tuple[int, dict[str, str]]] = []
    depth = 0
    problem: list[tuple[int, str]] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        nonlocal depth
        depth += 1
        line = parser.CurrentLineNumber
        if depth == 1 and name != root:
            problem.append((line, f"expected <{root}> as the root element, found <{name}>"))
        elif depth == 2 and name != "row":
            problem.append((line, f"expected <row>, found <{name}>"))
        elif depth == 2:
            pending.append((line, attrs))

    def end(name: str) -> None:
        nonlocal depth
        depth -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    total = path.stat().st_size
    done = 0
    with path.open("rb") as stream:
        while True:
            chunk = stream.read(_CHUNK)
            try:
                parser.Parse(chunk, not chunk)
            except expat.ExpatError as exc:
                raise ImportFormatError(
                    str(path), exc.lineno, f"malformed XML: {expat.ErrorString(exc.code)}"
                ) from None
            if problem:
                raise ImportFormatError(str(path), problem[0][0], problem[0][1])
            yield from pending
            pending.clear()
            done += len(chunk)
            progress(f"reading {path.name}", done, total)
            if not chunk:
                break


def read_posts(folder: Path, *, progress: Progress = silent) -> Iterator[Post]:
    """Each question and answer in ``folder/Posts.xml``, in file order; other types are skipped."""
    path = folder / "Posts.xml"
    for line, attrs in _rows(path, "posts", progress):
        try:
            type_id = _int(attrs, "PostTypeId", required=True)
            if type_id not in (QUESTION, ANSWER):
                continue
            post = Post(
                id=_int(attrs, "Id", required=True) or 0,
                type_id=type_id,
                created_at=_date(attrs, "CreationDate"),
                owner_id=_int(attrs, "OwnerUserId"),
                parent_id=_int(attrs, "ParentId", required=type_id == ANSWER),
                accepted_answer_id=_int(attrs, "AcceptedAnswerId"),
                title=attrs.get("Title", "").strip(),
                tags=parse_tags(attrs.get("Tags", "")),
                body=attrs.get("Body", ""),
            )
        except ValueError as exc:
            raise ImportFormatError(str(path), line, str(exc)) from None
        yield post


def read_users(folder: Path, *, wanted: set[int], progress: Progress = silent) -> dict[int, User]:
    """The users in ``folder/Users.xml`` whose ids are ``wanted`` (every row is still checked)."""
    path = folder / "Users.xml"
    users: dict[int, User] = {}
    for line, attrs in _rows(path, "users", progress):
        try:
            user_id = _int(attrs, "Id", required=True) or 0
            if user_id in wanted:
                users[user_id] = User(
                    id=user_id,
                    name=_shown(attrs.get("DisplayName", "")) or f"user {user_id}",
                    created_at=_date(attrs, "CreationDate"),
                    about=attrs.get("AboutMe", ""),
                )
        except ValueError as exc:
            raise ImportFormatError(str(path), line, str(exc)) from None
    return users


# What an answer's link may start with: a link elsewhere (javascript:, data:) must never be stored.
WEB_ADDRESS = re.compile(r"https?://[^\s<>|\"]+")


def _shown(name: str) -> str:
    """``name`` stripped, or "" when nothing of it shows (zero-width spaces only)."""
    return name.strip() if visible(name) else ""


def is_person(user_id: int | None) -> bool:
    """Real accounts only: no owner means a deleted account, and ids <= 0 are bots ("Community")."""
    return user_id is not None and user_id > 0


def default_site_url(folder: Path) -> str | None:
    """``https://beer.stackexchange.com`` for a folder named like the site, else None."""
    name = folder.resolve().name
    return f"https://{name}" if "." in name else None


def question_context(post: Post) -> str:
    """What an answer was about: the question's title and its tags."""
    if not post.tags:
        return post.title
    return f"{post.title} [{', '.join(post.tags)}]"


def read_site(
    folder: Path,
    *,
    until: datetime | None = None,
    site_url: str | None = None,
    profiles: bool = False,
    progress: Progress = silent,
) -> Site:
    """Read and check a dump's posts created before ``until`` (and users' "about me" when
    ``profiles``) into a ``Site``; a malformed file raises ``ImportFormatError`` here."""
    before = until or datetime.max.replace(tzinfo=UTC)
    url = (site_url or default_site_url(folder) or "").rstrip("/") or None
    if url is not None and not WEB_ADDRESS.fullmatch(url):  # each answer's link starts with it
        raise InvalidInput(
            f"a site URL is a web address like https://beer.stackexchange.com, not {site_url!r}"
        )
    site = Site(source=SOURCE, prefix="se:", site_url=url)

    # Pass 1: check every row, remember the questions answers will need, and who takes part.
    questions: dict[int, Post] = {}
    people: set[int] = set()
    to_read = 0
    for post in read_posts(folder, progress=progress):
        if post.created_at >= before:
            continue
        if post.is_question:
            questions[post.id] = replace(post, body="")  # only title, tags and owner needed
        if is_person(post.owner_id):
            assert post.owner_id is not None
            people.add(post.owner_id)
            to_read += 1
    users = read_users(folder, wanted=people, progress=progress)
    site.names = {user.id: user.name for user in users.values()}
    if profiles:
        for user in users.values():
            about = strip_html(user.about, limit=MAX_TEXT_CHARS)
            if about:
                site.profiles[user.id] = SiteProfile(text=about, created_at=user.created_at)

    # Pass 2: the kept posts in file order, answers as the evidence they become.
    done = 0
    for post in read_posts(folder):
        if post.created_at >= before or not is_person(post.owner_id):
            continue
        assert post.owner_id is not None
        done += 1
        if done % PROGRESS_EVERY == 0 or done == to_read:
            progress("importing posts", done, to_read)
        if post.is_question:
            site.posts.append(post.owner_id)
            continue
        question = questions.get(post.parent_id or 0)
        text = strip_html(post.body, limit=MAX_TEXT_CHARS)
        if question is None or not text:  # an orphan answer, or one with no words
            site.skipped += 1
            continue
        asker = question.owner_id if question.owner_id != post.owner_id else None
        site.posts.append(
            SiteAnswer(
                post_id=post.id,
                owner=post.owner_id,
                created_at=post.created_at,
                text=text,
                context=question_context(question),
                asker=asker if asker is not None and is_person(asker) else None,
            )
        )
    return site


def import_stackexchange(
    session: Session,
    *,
    network_id: int,
    folder: Path,
    now: datetime,
    until: datetime | None = None,
    site_url: str | None = None,
    profiles: bool = False,
    progress: Progress = silent,
) -> ImportReport:
    """Import a dump's askers, answerers, answers (as evidence) and ties, created before ``until``.

    ``profiles`` also imports each person's "about me" as profile evidence; it is off by default
    because the dump holds the profile as of the dump date, so it would leak past ``until``.
    Callers that hold a busy database read the dump first (``read_site``) and write it in their
    transaction (``write_site``), as this does.
    """
    site = read_site(folder, until=until, site_url=site_url, profiles=profiles, progress=progress)
    return write_site(
        session, network_id=network_id, site=site, now=now, profiles=profiles, progress=progress
    )
