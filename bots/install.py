"""Which bot token serves a workspace: one configured token, or one per OAuth installation.

Multi-workspace mode (``ASKAROUND_SLACK_CLIENT_ID`` and ``..._CLIENT_SECRET`` set) installs the
app through OAuth at ``/slack/install``; slack_sdk's SQLAlchemy installation store keeps each
workspace's bot token in the Askaround database (its own ``slack_*`` tables, created by the
store), and each workspace gets its own network, tied by ``Network.slack_team_id``.

Authorizing a request reads the token from settings or the store and never calls Slack, so the
bot serves requests (and queues replies in the outbox) while Slack's Web API is unreachable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.context import BoltContext
from slack_bolt.oauth.callback_options import CallbackOptions, FailureArgs, SuccessArgs
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import InstallationStore
from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

from askaround.settings import AppSettings
from bots import workspace
from router.storage.database import Database

log = logging.getLogger(__name__)

BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "im:history",
    "mpim:write",
    "users:read",
    "users:read.email",
)
STATE_SECONDS = 600


def multi_workspace(settings: AppSettings) -> bool:
    return bool(settings.slack_client_id and settings.slack_client_secret)


def installation_store(settings: AppSettings, database: Database) -> SQLAlchemyInstallationStore:
    """The store of installations in the Askaround database (its tables come from the migrations)."""
    assert settings.slack_client_id, "multi-workspace mode needs ASKAROUND_SLACK_CLIENT_ID"
    store = SQLAlchemyInstallationStore(client_id=settings.slack_client_id, engine=database.engine)
    return store


def token_lookup(
    store: InstallationStore | None, settings: AppSettings
) -> Callable[[str], str | None]:
    """Team id -> bot token: the workspace's installation, else the configured single token."""

    def lookup(team_id: str) -> str | None:
        if store is not None:
            bot = store.find_bot(enterprise_id=None, team_id=team_id)
            if bot is not None and bot.bot_token:
                return bot.bot_token
            return None
        return settings.slack_bot_token

    return lookup


class StoredTokenAuthorize(Authorize):
    """Bolt's authorize step from stored tokens only: no ``auth.test`` round trip to Slack."""

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self.lookup = lookup

    def __call__(
        self,
        *,
        context: BoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult | None:
        token = self.lookup(team_id) if team_id else None
        if not token:
            log.warning("no bot token for workspace %s: is the app installed there?", team_id)
            return None
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token
        )


def oauth_settings(
    settings: AppSettings,
    database: Database,
    store: InstallationStore,
    *,
    clock: Callable[[], datetime],
) -> OAuthSettings:
    """OAuth at /slack/install and /slack/oauth_redirect; a new workspace gets its network."""
    state_store = SQLAlchemyOAuthStateStore(
        expiration_seconds=STATE_SECONDS, engine=database.engine
    )

    def success(args: SuccessArgs) -> BoltResponse:
        team_id = args.installation.team_id
        if team_id:
            with database.transaction() as session:
                workspace.team_network(
                    session,
                    team_id=team_id,
                    now=clock(),
                    name=None,
                )
        return args.default.success(args)

    def failure(args: FailureArgs) -> BoltResponse:
        return args.default.failure(args)

    return OAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=store,
        installation_store_bot_only=True,
        state_store=state_store,
        state_expiration_seconds=STATE_SECONDS,
        callback_options=CallbackOptions(success=success, failure=failure),
    )
