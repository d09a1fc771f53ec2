"""A small HTTP fake of the Slack Web API (and response_url hooks) for tests and the benchmark.

It listens on 127.0.0.1 at a free port, records every call, answers like Slack does for the
methods the bot uses, and can be scripted to fail: a 429 with ``Retry-After``, a 5xx, or a
dropped connection (before or after the call took effect, as a real network can do both).

    fake = FakeSlack().start()
    client = WebClient(token="xoxb-test", base_url=fake.api_url)
    fake.fail("chat.postMessage", status=429, retry_after=1)
    ...
    assert fake.count("chat.postMessage") == 1
    fake.stop()
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TEAM_ID = "T0FAKE"
BOT_USER_ID = "UBOT"


@dataclass(frozen=True)
class Call:
    """One request the fake received; ``delivered`` is False when it failed before taking effect."""

    method: str  # "chat.postMessage", or "response_url" for hooks
    params: dict[str, Any]
    token: str | None
    at: float
    delivered: bool
    path: str


@dataclass
class Failure:
    status: int | None  # None: drop the connection
    retry_after: int | None = None
    after_effect: bool = False  # for drops: the call took effect before the connection died


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # channel -> messages
    members: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> team id; empty: any token
    oauth_codes: dict[str, dict[str, Any]] = field(default_factory=dict)


class FakeSlack:
    """The fake Web API server; thread-safe, one instance per test."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._state = _State()
        self._ts = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._handle(self)

            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """The Web API base URL, as ``WebClient(base_url=...)`` and ASKAROUND_SLACK_API_URL want it."""
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "cmd") -> str:
        """A response_url pointing at the fake, as Slack puts in slash commands and actions."""
        return f"{self.base_url}/hooks/{name}"

    # --- scripting -------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int | None,
        retry_after: int | None = None,
        times: int = 1,
        after_effect: bool = False,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail: an HTTP ``status``, or a drop (None)."""
        with self._lock:
            queue = self._state.failures.setdefault(method, [])
            queue.extend(Failure(status, retry_after, after_effect) for _ in range(times))

    def clear_failures(self) -> None:
        """Slack is back: no scripted failure is left."""
        with self._lock:
            self._state.failures.clear()

    def add_member(self, user: dict[str, Any]) -> None:
        """A workspace member that users.list and users.info report."""
        with self._lock:
            self._state.members.append(user)

    def set_members(self, users: list[dict[str, Any]]) -> None:
        with self._lock:
            self._state.members = list(users)

    def accept_token(self, token: str, team_id: str = TEAM_ID) -> None:
        """Only accepted tokens work once one is set (otherwise any token does)."""
        with self._lock:
            self._state.tokens[token] = team_id

    def add_oauth_code(self, code: str, *, team_id: str, bot_token: str) -> None:
        """An OAuth code that oauth.v2.access exchanges for a bot token of ``team_id``."""
        with self._lock:
            self._state.oauth_codes[code] = {"team_id": team_id, "bot_token": bot_token}
            self._state.tokens[bot_token] = team_id

    # --- assertions ------------------------------------------------------------------------

    def calls(self, method: str | None = None, *, delivered_only: bool = True) -> list[Call]:
        with self._lock:
            return [
                call
                for call in self._state.calls
                if (method is None or call.method == method)
                and (call.delivered or not delivered_only)
            ]

    def attempts(self, method: str) -> list[Call]:
        """Every call of ``method``, including those that failed before taking effect."""
        return self.calls(method, delivered_only=False)

    def count(self, method: str) -> int:
        return len(self.calls(method))

    def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        timeout: float = 10.0,
        where: Callable[[Call], bool] = lambda call: True,
    ) -> list[Call]:
        """Block until ``count`` delivered calls of ``method`` (those ``where`` accepts) arrived;
        AssertionError otherwise."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [
                    c for c in self._state.calls if c.method == method and c.delivered and where(c)
                ]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [c.method for c in self._state.calls]
                    raise AssertionError(
                        f"waited for {count} {method}, got {len(found)}; saw {seen}"
                    )
                self._lock.wait(left)

    def messages(self, channel: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._state.messages.get(channel, []))

    def reset_calls(self) -> None:
        with self._lock:
            self._state.calls.clear()

    # --- the server side -------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        url = urlsplit(request.path)
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        params = _parse_params(raw, request.headers.get("Content-Type", ""), url.query)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() or params.get("token")
        if url.path.startswith("/hooks/"):
            method = "response_url"
        elif url.path.startswith("/api/"):
            method = url.path.removeprefix("/api/")
        else:
            _reply(request, 404, {"ok": False, "error": "unknown_path"})
            return
        with self._lock:
            queue = self._state.failures.get(method) or []
            failure = queue.pop(0) if queue else None
        if failure is not None and not (failure.status is None and failure.after_effect):
            self._record(method, params, token, url.path, delivered=False)
            if failure.status is None:
                _drop(request)
                return
            headers = (
                {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
            )
            body = {"ok": False, "error": "ratelimited" if failure.status == 429 else "fatal_error"}
            _reply(request, failure.status, body, headers)
            return
        if method == "response_url":
            self._record(method, params, token, url.path, delivered=True)
            if failure is not None:
                _drop(request)
                return
            _reply_text(request, 200, "ok")
            return
        with self._lock:
            known = self._state.tokens
            if known and token not in known and method != "oauth.v2.access":
                self._state.calls.append(Call(method, params, token, time.time(), False, url.path))
                self._lock.notify_all()
                status, body = 200, {"ok": False, "error": "invalid_auth"}
            else:
                status, body = 200, self._api(method, params, token)
                self._state.calls.append(Call(method, params, token, time.time(), True, url.path))
                self._lock.notify_all()
        if failure is not None:  # a drop after the call took effect: the reply is lost
            _drop(request)
            return
        _reply(request, status, body)

    def _record(
        self, method: str, params: dict[str, Any], token: str | None, path: str, *, delivered: bool
    ) -> None:
        with self._lock:
            self._state.calls.append(Call(method, params, token, time.time(), delivered, path))
            self._lock.notify_all()

    def _team(self, token: str | None) -> str:
        return self._state.tokens.get(token or "", TEAM_ID)

    def _api(self, method: str, params: dict[str, Any], token: str | None) -> dict[str, Any]:
        """The reply to one successful call; runs under the lock."""
        state = self._state
        if method == "auth.test":
            return {
                "ok": True,
                "team_id": self._team(token),
                "user_id": BOT_USER_ID,
                "bot_id": "BFAKE",
            }
        if method == "conversations.open":
            users = str(params.get("users", "")).split(",")
            if len(users) > 1:  # a group DM
                return {"ok": True, "channel": {"id": "G" + "".join(sorted(users))}}
            return {"ok": True, "channel": {"id": "D" + users[0]}}
        if method in ("chat.postMessage", "chat.postEphemeral"):
            channel = str(params.get("channel", ""))
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            ts = f"{1_700_000_000 + next(self._ts)}.000100"
            message = {
                "ts": ts,
                "text": params.get("text", ""),
                "blocks": _json_param(params.get("blocks")) or [],
                "thread_ts": params.get("thread_ts"),
                "metadata": _json_param(params.get("metadata")),
            }
            state.messages.setdefault(channel, []).append(message)
            key = "message_ts" if method == "chat.postEphemeral" else "ts"
            return {"ok": True, "channel": channel, key: ts, "message": message}
        if method == "chat.update":
            channel, ts = str(params.get("channel", "")), str(params.get("ts", ""))
            for message in state.messages.get(channel, []):
                if message["ts"] == ts:
                    message["text"] = params.get("text", "")
                    message["blocks"] = _json_param(params.get("blocks")) or []
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "conversations.history":
            channel = str(params.get("channel", ""))
            oldest = float(params.get("oldest") or 0)
            found = [m for m in state.messages.get(channel, []) if float(m["ts"]) >= oldest]
            return {"ok": True, "messages": list(reversed(found)), "has_more": False}
        if method in ("views.open", "views.publish", "views.update", "views.push"):
            view = _json_param(params.get("view")) or {}
            return {"ok": True, "view": {**view, "id": f"V{next(self._ts)}"}}
        if method == "users.list":
            limit = int(params.get("limit") or 200)
            start = int(params.get("cursor") or 0)
            page = state.members[start : start + limit]
            more = start + limit < len(state.members)
            return {
                "ok": True,
                "members": page,
                "response_metadata": {"next_cursor": str(start + limit) if more else ""},
            }
        if method == "users.info":
            for member in state.members:
                if member.get("id") == params.get("user"):
                    return {"ok": True, "user": member}
            return {"ok": False, "error": "user_not_found"}
        if method == "oauth.v2.access":
            grant = state.oauth_codes.get(str(params.get("code", "")))
            if grant is None:
                return {"ok": False, "error": "invalid_code"}
            return {
                "ok": True,
                "app_id": "AFAKE",
                "access_token": grant["bot_token"],
                "token_type": "bot",
                "scope": "commands,chat:write",
                "bot_user_id": BOT_USER_ID,
                "team": {"id": grant["team_id"], "name": f"Team {grant['team_id']}"},
                "enterprise": None,
                "authed_user": {"id": "UINSTALLER"},
                "is_enterprise_install": False,
            }
        return {"ok": True}


def _parse_params(raw: bytes, content_type: str, query: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query))
    if not raw:
        return params
    text = raw.decode("utf-8")
    if "json" in content_type:
        data = json.loads(text)
        if isinstance(data, dict):
            params.update(data)
    else:
        params.update(parse_qsl(text, keep_blank_values=True))
    return params


def _json_param(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _reply(
    request: BaseHTTPRequestHandler,
    status: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(body).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json; charset=utf-8")
    request.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        request.send_header(name, value)
    request.end_headers()
    request.wfile.write(data)


def _reply_text(request: BaseHTTPRequestHandler, status: int, text: str) -> None:
    data = text.encode()
    request.send_response(status)
    request.send_header("Content-Type", "text/plain")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)


def _drop(request: BaseHTTPRequestHandler) -> None:
    """Close the connection without a reply, as a dying proxy or network would."""
    request.close_connection = True
    with contextlib.suppress(OSError):
        request.connection.shutdown(2)
