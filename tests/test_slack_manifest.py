"""The app manifest asks for exactly the scopes, command and events the bot uses."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bots import install
from bots.commands import COMMAND

BOTS = Path(__file__).resolve().parent.parent / "bots"
MANIFEST = yaml.safe_load((BOTS / "manifest.yml").read_text())

# Web API method -> the bot scope it needs (None: no scope)
METHOD_SCOPES = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "conversations_open": "im:write",
    "conversations_history": "im:history",
    "users_list": "users:read",
    "users_info": "users:read",
    "views_open": None,
    "views_publish": None,
}
CALL = re.compile(r"(?:client|poster|\))\.(\w+)\(|_call\(\s*\w+,\s*\"(\w+)\"")


def _methods_called() -> set[str]:
    found: set[str] = set()
    for path in BOTS.glob("*.py"):
        for match in CALL.finditer(path.read_text()):
            name = match.group(1) or match.group(2)
            if "_" in name and name.split("_")[0] in ("chat", "conversations", "users", "views"):
                found.add(name)
    return found


def test_every_web_api_method_called_is_known_to_this_test() -> None:
    assert _methods_called() == set(METHOD_SCOPES)


def test_the_manifest_asks_for_exactly_the_scopes_used() -> None:
    used = {scope for scope in METHOD_SCOPES.values() if scope} | {"commands"}
    emails_read = (
        "profile" in (BOTS / "workspace.py").read_text()
        and '"email"' in (BOTS / "workspace.py").read_text()
    )
    if emails_read:
        used.add("users:read.email")
    if 'conversations_open(users=f"{asker},{answerer}")' in (BOTS / "followups.py").read_text():
        used.add("mpim:write")  # conversations.open with several users: a group DM
    if "chat_postMessage(channel=channel" in (BOTS / "sharing.py").read_text():
        used.add("chat:write.public")  # Share to channel: any public channel the asker picks
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert scopes == used
    assert set(install.BOT_SCOPES) == used  # what an OAuth install asks for


def test_the_manifest_has_the_one_command_and_the_events_handled() -> None:
    assert [c["command"] for c in MANIFEST["features"]["slash_commands"]] == [COMMAND]
    handled = set(re.findall(r"app\.event\(\"(\w+)\"\)", (BOTS / "events.py").read_text()))
    handled = {"message.im" if name == "message" else name for name in handled}  # DMs only
    assert set(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == handled
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
