"""Admission: how many requests a worker works on at once, and who waits, first come first
served.

The server (granian) is told to accept every connection (its backpressure bounds open
connections, not requests: a bound there let 64 idle keep-alive connections lock every
other client out) and to close idle ones; this layer, the outermost of the application,
bounds the requests being *worked on*. A request holds a place from its arrival until
its answer starts (`http.response.start`): the body of a large file then leaves without
holding one, so slow downloads cannot starve anyone. Reads (GET, HEAD, OPTIONS) and
writes (uploads, admin calls) have places of their own, so slow uploads cannot hold up
pip and conda; a POST that changes nothing (a lock: `read_only.CHANGES_NOTHING`) is a
read, so a burst of locks never holds up uploads. A request that finds every place
taken waits in line (asyncio's semaphore is first-in, first-out); when the line itself is
full, it is answered 503 with `Retry-After` at once rather than after a long wait.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from drawbridge.server.asgi.read_only import CHANGES_NOTHING

#: methods that change nothing: they share the readers' places
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class AdmissionLimits:
    """Places per worker process: requests worked on at once, and requests waiting."""

    reads: int = 32
    writes: int = 8
    waiting: int = 4096


class _Line:
    """One kind of request's places and the line in front of them."""

    def __init__(self, places: int, waiting: int) -> None:
        self.places = asyncio.Semaphore(places)
        self.max_waiting = waiting
        self.waiting = 0

    def full(self) -> bool:
        return self.places.locked() and self.waiting >= self.max_waiting


class Admission:
    """ASGI middleware: at most `limits.reads` reads and `limits.writes` writes worked on
    at once; the rest wait in line, first come first served."""

    def __init__(self, app: ASGIApp, limits: AdmissionLimits = AdmissionLimits()) -> None:
        self.app = app
        self.limits = limits
        self._lines: dict[bool, _Line] = {}

    def _line(self, read: bool) -> _Line:
        # made on first use, inside the worker's event loop
        line = self._lines.get(read)
        if line is None:
            places = self.limits.reads if read else self.limits.writes
            line = self._lines[read] = _Line(places, self.limits.waiting)
        return line

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        line = self._line(
            scope["method"] in READ_METHODS or (scope["method"], scope["path"]) in CHANGES_NOTHING
        )
        if line.full():
            await _busy(send)
            return
        line.waiting += 1
        try:
            await line.places.acquire()
        finally:
            line.waiting -= 1
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                line.places.release()

        async def send_releasing(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()  # the answer is decided; sending it holds no place
            await send(message)

        try:
            await self.app(scope, receive, send_releasing)
        finally:
            release()


async def _busy(send: Send) -> None:
    """503: every place is taken and the line is full; the client should come back."""
    body = b"this server is answering as many requests as it can; try again in a second\n"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"1"),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
