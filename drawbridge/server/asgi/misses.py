"""Count what pip and uv asked for and did not find: a 404 on a channel's project page
(`/<channel>/simple/<project>/`, `/simple/<project>/`) or its JSON API document
(`/<channel>/pypi/<project>/json`), per channel and project, never the token or address.

It sits inside the read gate and behind the fast path, so a hit never reaches it and a
channel one may not read is not a miss. Counts are kept in memory and written every few
seconds in one transaction by a thread (`MissCounter.flush`), so a burst of misses costs
one write; conda clients are not counted: they read a subdir's whole index (or its shard
index) and never name a missing package in a URL.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable

from packaging.utils import canonicalize_name
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drawbridge.channel.database import Database
from drawbridge.channel.misses import record_misses

#: a project name as PEP 508 allows it, at most 200 characters
NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,198}[A-Za-z0-9])?$")
#: seconds between two writes of the counts
FLUSH_EVERY = 2.0
log = logging.getLogger("drawbridge")


def missed_project(path: str, default_channel: str) -> tuple[str, str] | None:
    """(channel, PEP 503 name) a pip-view path asks for, or None if it asks for no project."""
    parts = path.strip("/").split("/")
    if len(parts) >= 2 and parts[-2] == "simple" and path.endswith("/"):
        channel, project = "/".join(parts[:-2]) or default_channel, parts[-1]
    elif len(parts) >= 4 and parts[-3] == "pypi" and parts[-1] == "json":
        channel, project = "/".join(parts[:-3]), parts[-2]
    else:
        return None
    if not channel or not NAME.match(project):
        return None
    return channel, canonicalize_name(project)


class MissCounter:
    """Misses counted in memory and written by a thread every `FLUSH_EVERY` seconds;
    `on_first` hears of each (channel, project) missed for the first time (after writing)."""

    def __init__(
        self,
        database: Database,
        on_first: Callable[[str, str], None] | None = None,
        every: float = FLUSH_EVERY,
    ) -> None:
        self.database = database
        self.on_first = on_first
        self.every = every
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None

    def note(self, channel: str, project: str) -> None:
        with self._lock:
            self._counts[(channel, project)] += 1
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_while_counted, name="drawbridge-misses", daemon=True
                )
                self._writer.start()

    def _write_while_counted(self) -> None:
        """Write every `every` seconds until a write leaves nothing counted. The writer
        retires under the lock `note` takes, so a miss noted while a write (or `on_first`,
        which may file a request) is under way is written by this thread's next round,
        never left in memory for a writer that no longer runs."""
        while True:
            time.sleep(self.every)
            try:
                self.flush()
            except Exception:  # the counts are kept: the next round writes them
                log.exception("writing the missed projects' counts failed; trying again")
            with self._lock:
                if not self._counts:
                    self._writer = None
                    return

    def flush(self) -> None:
        """Write the counts kept so far (one transaction), then tell `on_first`; if the
        write fails, the counts are kept for the next one and the error is raised."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        if not counts:
            return
        try:
            first = record_misses(self.database, counts)
        except Exception:  # nothing was written (one transaction): keep them for the next
            with self._lock:
                self._counts.update(counts)
            raise
        for channel, project in first:
            if self.on_first is not None:
                try:
                    self.on_first(channel, project)
                except Exception:  # counted all the same; the other first ones are heard
                    log.exception("acting on the first miss of %s in %s failed", project, channel)


class MissCounting:
    """The ASGI layer: note each 404 a GET of a project page or JSON document answered."""

    def __init__(self, app: ASGIApp, counter: MissCounter, default_channel: str) -> None:
        self.app = app
        self.counter = counter
        self.default_channel = default_channel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        asked = missed_project(scope["path"], self.default_channel)
        if asked is None:
            await self.app(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 404:
                self.counter.note(*asked)
            await send(message)

        await self.app(scope, receive, watch)
