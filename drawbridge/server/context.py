"""What every route needs: the home, the database, the channels, and the read rules."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol
from functools import cached_property

from fastapi import Request

from drawbridge.bridge.bridging_requests import RequestBook
from drawbridge.bridge.policy import osv
from drawbridge.bridge.policy.osv import Snapshot
from drawbridge.bridge.policy.rules import Advisory
from drawbridge.bridge.farm.jobs import JobBook
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.channel.access import Access
from drawbridge.channel.database import Database
from drawbridge.channel.errors import HomeError
from drawbridge.channel.home import Home, load_home
from drawbridge.channel.hosted_docs import DocsStore
from drawbridge.channel.service import Channels
from drawbridge.channel.upstream_conda import UpstreamConda, upstream_channels
from drawbridge.channel.tokens import Identity, Role
from drawbridge.server.auth import identify
from drawbridge.server.index_files import IndexFileCache
from drawbridge.channel.bases import Level
from drawbridge.server.inherited import InheritedViews
from drawbridge.server.upstream_relay import index_copy

log = logging.getLogger("drawbridge")
#: a bare liveness check: answers without a token when reading is private
LIVENESS_PATH = "/health"
#: the icon browsers ask for on their own (without the `/t/<token>/` prefix): open as well,
#: so a private server's pages log no failed request; it says nothing about the channels
ICON_PATH = "/favicon.ico"
#: the paths the read rule leaves open
OPEN_PATHS = frozenset({LIVENESS_PATH, ICON_PATH})
#: where replicas fetch recorded files by sha256: the route checks the replica token itself
REPLICA_FILES_PREFIX = "/api/files/sha256/"


class Flushing(Protocol):
    """What routes and the lifespan need of the miss counter (`asgi.misses`), which this
    shared module may not import: writing the counts kept so far."""

    def flush(self) -> None: ...


@dataclass
class Context:
    """One application's parts; stored on `app.state.context`."""

    home: Home
    database: Database
    channels: Channels
    index_cache: IndexFileCache = field(default_factory=IndexFileCache)
    #: the misses counted for `request list --wanted` (`asgi.misses.MissCounter`)
    misses: Flushing | None = None
    _osv: tuple[int, Snapshot] | None = None
    _mirrors: tuple[int, dict[str, UpstreamConda]] | None = None

    @property
    def default_channel(self) -> str:
        return self.home.server.default_channel

    @property
    def access(self) -> Access:
        """Who may read, upload to and review each channel (`channel.access` decides)."""
        return self.channels.access

    def role_to_read(self, path: str) -> Role | None:
        """The server-wide read rule: the role a request for `path` needs before any route
        sees it, or None if it needs none. The read gate (`server/asgi/gate.py`) applies it to
        every request that names no channel, and to channels without a read list of their
        own (a channel's list is `Access.may_read`'s business).

        With `anonymous_read = false` that is a reader token for everything (pages, files,
        the web UI, the APIs, the upstream mirrors, /docs and /openapi.json) except the
        bare liveness check and the icon (`OPEN_PATHS`).
        """
        if self.home.server.anonymous_read or path in OPEN_PATHS:
            return None
        return Role.reader

    def check_read(self, request: Request, channel: str) -> None:
        """404 for an unknown channel, and for one the request's identity may not read, the
        same answer for both (the read gate has refused those already; this keeps every
        route safe on its own)."""
        self.access.check_read(self.identity(request), channel)

    def unreadable_levels(self, request: Request, channel: str) -> frozenset[Level]:
        """The levels of `channel` the request's identity may not read: an inheriting
        channel never shows a reader the files of a base hidden from them."""
        levels = self.inherited.levels(channel)
        if len(levels) == 1:
            return frozenset()
        identity = self.identity(request)
        return frozenset(
            level
            for level in levels[1:]
            if not level.upstream and not self.access.may_read(identity, level.name)
        )

    @cached_property
    def inherited(self) -> InheritedViews:
        """The merged views of channels that have bases."""
        folders: dict[tuple[str, str], str] = {}

        def folder(channel: str, view: str) -> str:
            key = (channel, view)
            if key not in folders:
                layout = self.home.channel(channel)
                folders[key] = str(
                    {"simple": layout.simple_dir, "files": layout.files_dir}.get(
                        view, layout.conda_dir
                    )
                )
            return folders[key]

        return InheritedViews(
            self.home.channels_dir,
            self.home.cache_dir,
            self.channels.bases,
            folder,
            lambda name: self.upstream_mirrors.get(name),
            lambda mirror, subdir, name, refresh: index_copy(
                self.home.cache_dir, mirror, subdir, name, refresh
            ),
        )

    @cached_property
    def docs(self) -> DocsStore:
        """The releases' hosted documentation (`channel.hosted_docs`)."""
        return DocsStore(self.home, self.database)

    @cached_property
    def recipes(self) -> RecipeBook:
        return RecipeBook(self.home, self.database)

    @cached_property
    def jobs(self) -> JobBook:
        """The build jobs and the agents building them."""
        return JobBook(self.database, self.home.recipes.build_lease_seconds)

    @cached_property
    def requests(self) -> RequestBook:
        return RequestBook(self.database)

    @property
    def upstream_mirrors(self) -> dict[str, UpstreamConda]:
        """The upstream conda mirrors by served name, read again when drawbridge.toml changes:
        a mirror `drawbridge upstream add` connects is served without a restart."""
        try:
            stamp = self.home.config_path.stat().st_mtime_ns
        except OSError:
            stamp = 0
        if self._mirrors is None or self._mirrors[0] != stamp:
            try:
                entries = load_home(self.home.root).bridge.upstream_conda
            except HomeError as error:  # a broken edit: keep serving what was read before
                log.warning("drawbridge.toml not re-read: %s", error)
                if self._mirrors is not None:
                    return self._mirrors[1]
                entries = self.home.bridge.upstream_conda
            self._mirrors = (stamp, upstream_channels(entries))
        return self._mirrors[1]

    def advisories(self, project: str, versions: list[str]) -> list[tuple[str, Advisory]]:
        """The advisories of the home's OSV snapshot (read again when it is replaced) that
        apply to these versions of `project`, as (version, advisory)."""
        try:
            stamp = (self.home.root / osv.SNAPSHOT).stat().st_mtime_ns
        except OSError:
            return []
        if self._osv is None or self._osv[0] != stamp:
            self._osv = (stamp, osv.Snapshot.load(self.home.root))
        snapshot = self._osv[1]
        return [(v, a) for v in versions for a in snapshot.advisories(project, v)]

    def identity(self, request: Request) -> Identity:
        return identify(request, self.database)


def context(request: Request) -> Context:
    found: Context = request.app.state.context  # set by the app factory
    return found
