"""A replica keeping up with its primary: one background thread in `drawbridge serve`'s
main process polls the outbox's newest event id every POLL_SECONDS (the standby's
database replicates it with the records), fetches the files the records name and the
store lacks from the primary (`GET /api/files/sha256/<hex>` with the replica token),
drops the files no record names any more, and rebuilds the indexes the changes touched
from the records: pages, repodata and shards of its own. No stamp file crosses machines.

On start it checks every channel (a full pass), and again every FULL_PASS_SECONDS, and
every RETRY_SECONDS while files are missing (the primary down): an event whose id was
taken before another's but committed after it is caught by the next full pass at the
latest. `/health` reads what the last pass said (`channel.replica_store.read_status`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from drawbridge.channel.bases import touch_stamp
from drawbridge.channel.database import Database
from drawbridge.channel.events import Event, events_since, newest_event_id
from drawbridge.channel.distributions import digest_file
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.home import Home
from drawbridge.channel.hosted_docs import DocsStore
from drawbridge.channel.replica_store import (
    FetchRefused,
    RecordedFile,
    ask_for_files,
    asked_at,
    fetch_into_place,
    is_recorded,
    missing,
    prepare_layout,
    project_of,
    read_status,
    recorded_files,
    remove_fetch_leftovers,
    unrecorded,
    write_status,
)
from drawbridge.channel.service import Channels

log = logging.getLogger("drawbridge")
#: how often the replica asks the standby for the newest event id
POLL_SECONDS = 0.25
#: how often every channel is checked whatever the events said
FULL_PASS_SECONDS = 30.0
#: how often a pass is made again while files are missing
RETRY_SECONDS = 2.0
#: the primary's route for a recorded file by its sha256
FILES_PATH = "/api/files/sha256/"
#: events that change who may read what, or what a channel inherits
ACCESS_EVENTS = frozenset({"channel-created", "channel-permissions", "project-owner"})


@dataclass
class _Touched:
    """What the events since the last poll changed, channel by channel."""

    projects: dict[str, set[str]] = field(default_factory=dict)
    subdirs: dict[str, set[str]] = field(default_factory=dict)
    access: bool = False
    bases: bool = False

    def add(self, event: Event) -> None:
        if event.kind in ACCESS_EVENTS:
            self.access = True
        if event.kind == "channel-bases":
            self.bases = True
        if not event.channel:
            return
        self.projects.setdefault(event.channel, set())
        self.subdirs.setdefault(event.channel, set())
        if "subdir" in event.payload:
            self.subdirs[event.channel].add(event.payload["subdir"])
        elif event.payload.get("view") == "pypi":
            self.projects[event.channel].add(event.payload["project"])


class ReplicaSync:
    """The thread keeping a replica's store and indexes to its standby's records."""

    def __init__(self, home: Home, poll_seconds: float = POLL_SECONDS) -> None:
        self.home = home
        self.poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drawbridge-replica", daemon=True)

    def start(self) -> ReplicaSync:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(30)

    def _run(self) -> None:
        remove_fetch_leftovers(self.home)
        primary = self.home.server.replica_of.rstrip("/")
        headers = {"Authorization": f"Bearer {self.home.server.replica_token}"}
        database: Database | None = None
        channels: Channels | None = None
        seen, next_full, lacking, started = -1, 0.0, 0, False
        last_asked = asked_at(self.home)
        with httpx.Client(base_url=primary, headers=headers, timeout=60) as client:
            while not self._stopping.is_set():
                try:
                    if database is None or channels is None:
                        database = Database(self.home.database_url, self.home.server.replica_of)
                        channels = Channels(self.home, database)
                    with database.session() as session:
                        newest = newest_event_id(session)
                    now = time.monotonic()
                    asked = asked_at(self.home)
                    if asked != last_asked:  # a request waits for a file: look now
                        last_asked, next_full = asked, now
                    if now >= next_full:
                        lacking = self._full_pass(channels, client, rebuild=not started)
                        started, seen = True, newest
                        wait = RETRY_SECONDS if lacking else FULL_PASS_SECONDS
                        next_full = time.monotonic() + wait
                        self._said(newest, lacking)
                    elif newest != seen:
                        with database.session() as session:
                            events = events_since(session, seen)
                        lacking = self._follow(channels, client, events) or lacking
                        seen = max([newest, *(e.id for e in events)])
                        if lacking:
                            next_full = time.monotonic() + RETRY_SECONDS
                        self._said(seen, lacking)
                except Exception as error:  # the standby or the primary unreachable
                    log.warning("replica: %s; trying again", error)
                    self._stopping.wait(1)
                    continue
                self._stopping.wait(self.poll_seconds)
        if database is not None:
            database.close()

    def _said(self, event: int, lacking: int) -> None:
        write_status(self.home, {"event": event, "missing": lacking, "at": time.time()})

    def _full_pass(self, channels: Channels, client: httpx.Client, rebuild: bool) -> int:
        """Every channel: fetch what is missing, drop what is unrecorded, and rewrite the
        indexes that changed (`rebuild`: all of them, as on start)."""
        lacking = 0
        for name in channels.names():
            lacking += self._sync_channel(channels, client, name, set(), set(), rebuild)
        channels.access.note_change()
        touch_stamp(self.home.channels_dir)
        return lacking

    def _follow(self, channels: Channels, client: httpx.Client, events: list[Event]) -> int:
        touched = _Touched()
        for event in events:
            touched.add(event)
        known = set(channels.names())
        lacking = 0
        for name in sorted(set(touched.projects) & known):
            lacking += self._sync_channel(
                channels, client, name, touched.projects[name], touched.subdirs[name]
            )
        if touched.access:
            channels.access.note_change()
        if touched.bases:
            touch_stamp(self.home.channels_dir)
        return lacking

    def _sync_docs(self, channels: Channels, client: httpx.Client, name: str) -> int:
        """Fetch and unpack the docs the channel's records name and the store lacks."""
        store = DocsStore(self.home, channels.db)
        lacking = 0
        for item in _docs_wanted(store, name):
            try:
                fetch_into_place(self.home, item, lambda i, path: _download(client, i, path))
                version = Path(item.path).name.removesuffix(".zip")
                store.unpack_fetched(name, item.project or "", version)
            except (httpx.HTTPError, ChannelError, OSError) as error:
                log.warning("replica: %s/%s not fetched yet: %s", name, item.path, error)
                lacking += 1
        return lacking

    def _sync_channel(
        self,
        channels: Channels,
        client: httpx.Client,
        name: str,
        projects: set[str],
        subdirs: set[str],
        rebuild: bool = False,
    ) -> int:
        """Bring one channel's store and indexes to its records: fetch what it lacks, drop
        what is unrecorded, rewrite the pages of `projects`, index `subdirs` (and what the
        files fetched or dropped touched; `rebuild`: every index). Returns how many files
        could not be fetched."""
        layout = self.home.channel(name)
        prepare_layout(channels.indexes, layout)
        files = recorded_files(channels.db, name)
        lacking = 0
        projects, subdirs = set(projects), set(subdirs)
        for item in missing(layout, files):
            try:
                fetch_into_place(self.home, item, lambda i, path: _download(client, i, path))
            except (httpx.HTTPError, FetchRefused, OSError) as error:
                log.warning("replica: %s/%s not fetched yet: %s", name, item.path, error)
                lacking += 1
                continue
            _note(item, projects, subdirs)
        lacking += self._sync_docs(channels, client, name)
        for path in unrecorded(layout, files):
            path.unlink(missing_ok=True)
            path.with_name(path.name + ".metadata").unlink(missing_ok=True)
            if path.parent.parent == layout.conda_dir:
                subdirs.add(path.parent.name)
            elif (project := project_of(path.name)) is not None:
                projects.add(project)
        with channels.db.locks.channel(layout):
            if rebuild:
                channels.indexes.rebuild(layout, force=False)
            elif projects or subdirs:
                channels.indexes.refresh(layout, projects, subdirs)
        return lacking


def _docs_wanted(store: DocsStore, channel: str) -> list[RecordedFile]:
    """The docs zips of a channel's records that the store lacks, or holds other bytes of
    (docs of a version can be uploaded again)."""
    wanted = []
    for row in store.recorded(channel):
        kept = store.archive(channel, row.project, row.version)
        try:
            there = kept.stat()
        except OSError:
            there = None
        # a zip older than its record may be an earlier upload of the version: hash it
        if (
            there is None
            or there.st_size != row.size
            or (
                there.st_mtime < row.uploaded.timestamp() and digest_file(kept).sha256 != row.sha256
            )
        ):
            relative = kept.relative_to(store.home.channel(channel).root).as_posix()
            wanted.append(RecordedFile(channel, relative, row.sha256, row.size, row.project))
    return wanted


def _note(item: RecordedFile, projects: set[str], subdirs: set[str]) -> None:
    if item.subdir:
        subdirs.add(item.subdir)
    elif item.project:
        projects.add(item.project)


def _download(client: httpx.Client, item: RecordedFile, target: Path) -> None:
    """Stream the primary's file of `item.sha256` into `target`."""
    with client.stream("GET", FILES_PATH + item.sha256) as response:
        response.raise_for_status()
        with target.open("wb") as handle:
            for chunk in response.iter_bytes(1 << 20):
                handle.write(chunk)


def not_fetched_yet(home: Home, database: Database, channel: str, path: str) -> bool:
    """On a replica, whether the file at `path` in `channel` is recorded but not in the
    store yet; if so the background pass is asked to fetch now. The routes answer such a
    request 503 with Retry-After (pip and rattler retry), never with part of a file."""
    if not home.server.replica_of or not is_recorded(database, channel, path):
        return False
    ask_for_files(home)
    return True


#: what a request for a file a replica has not fetched yet gets
FETCHING_HEADERS = {"Retry-After": "2"}


def replica_health(home: Home, database: Database) -> dict[str, Any]:
    """What `/health` says on a replica: the standby's replay lag and the files missing."""
    with database.engine.connect() as connection:
        lag, caught_up = connection.execute(
            text(
                "SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), "
                "pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
            )
        ).one()
    status = read_status(home)
    return {
        "replica_of": home.server.replica_of,
        "replay_lag_seconds": None if lag is None else round(float(lag), 3),
        "replay_caught_up": caught_up,
        "missing_files": status.get("missing"),
        "event": status.get("event"),
    }
