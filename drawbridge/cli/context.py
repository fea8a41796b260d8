"""One home opened once per command: its settings, database, channels, recipes and requests.

A command asks `open_home(--home)` for the context; every part is made on first use and
kept, so one `drawbridge` run builds one database engine however many parts it touches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from drawbridge.bridge.bridging_requests import RequestBook
from drawbridge.bridge.farm.jobs import JobBook
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.channel.database import Database
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.held import HeldFiles
from drawbridge.channel.home import Home, load_home, resolve_home_path
from drawbridge.channel.hosted_docs import DocsStore
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Identity, Role, identify_token


@dataclass
class CliContext:
    """The parts of one home a command works with, each made when first used."""

    home: Home

    @cached_property
    def database(self) -> Database:
        return Database(self.home.database_url, self.home.server.replica_of)

    @cached_property
    def channels(self) -> Channels:
        return Channels(self.home, self.database)

    @cached_property
    def docs(self) -> DocsStore:
        return DocsStore(self.home, self.database)

    @cached_property
    def recipes(self) -> RecipeBook:
        return RecipeBook(self.home, self.database)

    @cached_property
    def held(self) -> HeldFiles:
        return HeldFiles(self.home.root, self.database)

    @cached_property
    def jobs(self) -> JobBook:
        return JobBook(self.database, self.home.recipes.build_lease_seconds)

    @cached_property
    def requests(self) -> RequestBook:
        return RequestBook(self.database)

    def channel(self, name: str | None) -> str:
        """`name`, or the configured default channel; UnknownChannel if it does not exist."""
        chosen = name or self.home.server.default_channel
        self.channels.layout(chosen)
        return chosen

    def identity(self, token: str | None, what: str) -> Identity:
        """Who `token` stands for; ChannelError, with how to get one, if none or unknown."""
        if not token:
            raise ChannelError(
                f"{what} needs a token: --token TOKEN or $DRAWBRIDGE_TOKEN; an admin makes "
                "one with `drawbridge token create --user NAME --role maintainer` (it is "
                "printed once)"
            )
        identity = identify_token(self.database, token)
        if identity is None:
            raise ChannelError(
                "the token is unknown, revoked or expired, or its user is disabled; make a new "
                "one with `drawbridge token create --user NAME --role maintainer`"
            )
        return identity

    def decider(self, token: str | None, what: str) -> str:
        """The user a token names, if it may decide on `what`: a maintainer's or admin's
        token whose user reviews the default channel (where bridged and built packages go)."""
        if not token:
            raise ChannelError(
                f"deciding on {what} needs a maintainer's token: --token TOKEN or "
                "$DRAWBRIDGE_TOKEN; an admin makes one on the server with `drawbridge token "
                "create --user NAME --role maintainer` (it is printed once)"
            )
        identity = identify_token(self.database, token)
        if identity is None:
            raise ChannelError(
                "the token is unknown, revoked or expired, or its user is disabled; make a new "
                "one with `drawbridge token create --user NAME --role maintainer`"
            )
        assert identity.role is not None
        if identity.role < Role.maintainer:
            raise ChannelError(
                f"only maintainers and admins may decide on {what}; {identity.user} is "
                f"{identity.role.with_article}"
            )
        default = self.home.server.default_channel
        if not self.channels.access.may_review(identity, default):
            raise ChannelError(
                f"{identity.user} may not review {default!r}, the channel the bridge and "
                f"recipe builds publish into; its reviewers decide on {what} (`drawbridge "
                f"channel permissions {default}` lists them)"
            )
        return identity.user


_opened: dict[Path, CliContext] = {}


def open_home(home: Path | None) -> CliContext:
    """The context of the home at `home` (or $DRAWBRIDGE_HOME, or ./drawbridge-home)."""
    root = resolve_home_path(home).resolve()
    if root not in _opened:
        _opened[root] = CliContext(load_home(home))
    return _opened[root]


def forget_home(home: Path | None) -> None:
    """Drop a cached context, after `init` changed the home on disk."""
    _opened.pop(resolve_home_path(home).resolve(), None)
