"""Webhook deliveries over HTTP: each event POSTed as JSON, signed with HMAC-SHA256 over
the raw body the way GitHub signs (`X-Drawbridge-Signature-256: sha256=<hex>`), by one
background thread per `drawbridge serve` (its main process, not each worker).

The thread repeats `channel.hooks.Hooks.deliver_due` every POLL_SECONDS: what to post,
in which order, and when to retry is decided there, in the database, so a server that
dies loses nothing (the next one to run finds the deliveries still pending). A publish
never waits for it. On SQLite, a lock file in the home keeps to one worker per home;
on PostgreSQL several servers share the deliveries (`FOR NO KEY UPDATE SKIP LOCKED`).
Every PRUNE_SECONDS it also deletes the events and finished deliveries older than `[server]
outbox_keep_days` (`channel.events.prune_outbox`), so the outbox does not grow forever.

Headers: `X-Drawbridge-Event` (the event's kind), `X-Drawbridge-Delivery` (the event id
and the webhook id, `<event>-<hook>`: the same on every attempt, for receivers to
de-duplicate), `X-Drawbridge-Signature-256`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import threading
import time

import httpx
from sqlalchemy.engine import make_url

from drawbridge import __version__
from drawbridge.channel.database import Database, utcnow
from drawbridge.channel.events import Event, prune_outbox
from drawbridge.channel.home import Home
from drawbridge.channel.hooks import Attempt, Hooks, Poster
from drawbridge.channel.locks import FileLocks, Held

log = logging.getLogger("drawbridge")
#: how often the worker looks for due deliveries
POLL_SECONDS = 0.25
#: how long a receiver may take to answer one delivery
POST_TIMEOUT_SECONDS = 10.0
#: the file an SQLite home's worker holds locked
LOCK_NAME = "webhooks.lock"
#: how often the worker deletes what the outbox no longer keeps (first: when it starts)
PRUNE_SECONDS = 3600.0


def signature(secret: str, body: bytes) -> str:
    """The `X-Drawbridge-Signature-256` value of `body`: `sha256=` and the HMAC's hex."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def event_body(event: Event) -> bytes:
    """The JSON a receiver gets for `event`."""
    return json.dumps(event.as_json(), separators=(",", ":"), sort_keys=True).encode()


def poster(client: httpx.Client) -> Poster:
    """A function posting one delivery with `client`; any answer but a 2xx is a failure."""

    def post(url: str, secret: str, event: Event, delivery: str) -> Attempt:
        body = event_body(event)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"Drawbridge-Hookshot/{__version__}",
            "X-Drawbridge-Event": event.kind,
            "X-Drawbridge-Delivery": delivery,
            "X-Drawbridge-Signature-256": signature(secret, body),
        }
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            return Attempt(None, f"{type(error).__name__}: {error}")
        if 200 <= response.status_code < 300:
            return Attempt(response.status_code)
        return Attempt(response.status_code, f"HTTP {response.status_code}: {response.text[:300]}")

    return post


class DeliveryWorker:
    """The background thread delivering a home's webhooks; `start`, then `stop`."""

    def __init__(
        self, home: Home, poll_seconds: float = POLL_SECONDS, prune_seconds: float = PRUNE_SECONDS
    ) -> None:
        self.home = home
        self.poll_seconds = poll_seconds
        self.prune_seconds = prune_seconds
        self._next_prune = 0.0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drawbridge-webhooks", daemon=True)

    def start(self) -> DeliveryWorker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(POST_TIMEOUT_SECONDS + 5)

    def _run(self) -> None:
        sqlite = make_url(self.home.database_url).get_backend_name() == "sqlite"
        locks = FileLocks() if sqlite else None
        held: Held | None = None
        database: Database | None = None
        with httpx.Client(timeout=POST_TIMEOUT_SECONDS, follow_redirects=False) as client:
            post = poster(client)
            try:
                while not self._stopping.is_set():
                    if locks is not None and held is None:
                        held = locks.try_hold("webhooks", self.home.root / LOCK_NAME)
                        if held is None:
                            self._stopping.wait(5)  # another server of this home delivers
                            continue
                    try:
                        database = database or Database(self.home.database_url)
                        Hooks(database).deliver_due(post)
                        self._prune_if_due(database)
                    except Exception as error:  # the database down, say: try again
                        log.warning("webhook deliveries wait: %s", error)
                        self._stopping.wait(5)
                        continue
                    self._stopping.wait(self.poll_seconds)
            finally:
                if database is not None:
                    database.close()
                if held is not None:
                    held.release()

    def _prune_if_due(self, database: Database) -> None:
        """Delete what the outbox keeps no longer, if PRUNE_SECONDS passed since the last
        time (or this is the first)."""
        if time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + self.prune_seconds
        keep = dt.timedelta(days=self.home.server.outbox_keep_days)
        pruned = prune_outbox(database, utcnow() - keep)
        if pruned.events or pruned.deliveries:
            log.info(
                "outbox: %d event(s) and %d finished webhook delivery(ies) older than %d days "
                "deleted",
                pruned.events,
                pruned.deliveries,
                self.home.server.outbox_keep_days,
            )
