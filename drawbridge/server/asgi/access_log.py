"""The access log: one line per request, common log format plus seconds taken, tokens masked.

    127.0.0.1 - - [29/Nov/2026:05:14:00 +0000] "GET /t/***/main/simple/ HTTP/1.1" 200 512 0.000231

The last field is the time from the request's arrival to the response being handed to the
server (a file sent with `pathsend` is still streaming then). A `/t/<token>/` prefix is
written as `/t/***/`; no request header is ever written, so neither is an Authorization
header. The fast path records its own answers (no wrapper around `send`); `wrap` logs
everything else.

Lines are written once per event-loop turn, in writes of whole lines of at most PIPE_BUF
bytes to a file opened for appending: the workers of one server can share a file or a
pipe without tearing lines. Rotate a file with copytruncate.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any
from typing import BinaryIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: what a request line may not carry into the log as is: quotes, backslashes, controls, non-ASCII
_UNSAFE = re.compile(r'[\x00-\x1f"\\\x7f-\xff]')
TOKEN_PREFIX = "/t/***"
#: the largest write a pipe keeps whole when several processes write to it
PIPE_BUF = 4096
#: how a server's `http_version` is written: granian says "1" for HTTP/1.0
HTTP_VERSIONS = {"1": "1.0"}


def _escape(text: str) -> str:
    return _UNSAFE.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


class _Clock:
    """The `[day/Mon/year:H:M:S +zone]` of now, formatted once per second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def now(self) -> str:
        second = int(time.time())
        if second != self._second:
            local = time.localtime(second)
            offset = local.tm_gmtoff // 60
            sign = "-" if offset < 0 else "+"
            self._text = (
                f"[{local.tm_mday:02d}/{MONTHS[local.tm_mon - 1]}/{local.tm_year}:"
                f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} "
                f"{sign}{abs(offset) // 60:02d}{abs(offset) % 60:02d}]"
            )
            self._second = second
        return self._text


class AccessLog:
    """Formats and writes the lines of one application (one per worker)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.clock = _Clock()
        self._pending: list[bytes] = []

    @classmethod
    def open(cls, destination: str, home_root: Path) -> AccessLog | None:
        """The log `[server] access_log` names: "-" standard error, "" none, else a file.

        A relative path is taken from the home. Raises OSError if the file cannot be opened.
        """
        if destination == "":
            return None
        if destination == "-":
            return cls(open(2, "wb", buffering=0, closefd=False))
        path = Path(destination)
        if not path.is_absolute():
            path = home_root / path
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(open(path, "ab", buffering=0))

    def wrap(self, app: ASGIApp) -> ASGIApp:
        """`app` with each HTTP request it answers logged."""
        return _LoggedApp(app, self)

    def record(self, scope: Scope, status: int, size: int, started: float) -> None:
        """Log one request that began at `perf_counter()` `started` and sent `size` body bytes."""
        seconds = time.perf_counter() - started
        raw = scope.get("raw_path")
        target = raw.decode("latin-1") if raw else scope["path"]
        if "drawbridge.token" in scope:  # the prefix is gone from the path by now
            target = TOKEN_PREFIX + target
        if query := scope.get("query_string"):
            target = f"{target}?{query.decode('latin-1')}"
        method = scope["method"]
        if _UNSAFE.search(target) or _UNSAFE.search(method):
            target, method = _escape(target), _escape(method)
        client = scope.get("client")
        version = scope.get("http_version", "1.1")
        line = '%s - - %s "%s %s HTTP/%s" %d %s %.6f\n' % (
            client[0] if client else "-",
            self.clock.now(),
            method,
            target,
            HTTP_VERSIONS.get(version, version),
            status,
            size or "-",
            seconds,
        )
        if not self._pending:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no event loop: write at once
                self._pending.append(line.encode("ascii", "backslashreplace"))
                self.flush()
                return
        self._pending.append(line.encode("ascii", "backslashreplace"))

    def flush(self) -> None:
        """Write the pending lines, in whole lines of at most PIPE_BUF bytes per write."""
        lines, self._pending = self._pending, []
        chunk = b""
        try:
            for line in lines:
                if chunk and len(chunk) + len(line) > PIPE_BUF:
                    self.stream.write(chunk)
                    chunk = b""
                chunk += line
            if chunk:
                self.stream.write(chunk)
        except (OSError, ValueError):  # a full disk or a closed stream must not fail requests
            pass


class _LoggedApp:
    """ASGI middleware: log every HTTP request `app` answers, counting the bytes it sends."""

    def __init__(self, app: ASGIApp, log: AccessLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent: list[Any] = [500, 0, None]  # status, body bytes, headers of the start message

        def logged_send(message: Message) -> Awaitable[None]:
            # not async: it returns the server's awaitable, saving a coroutine per message
            kind = message["type"]
            if kind == "http.response.body":
                sent[1] += len(message.get("body", b""))
            elif kind == "http.response.start":
                sent[0] = message["status"]
                sent[2] = message.get("headers")
            elif kind == "http.response.pathsend":
                sent[1] = _content_length(sent[2])
            return send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            self.log.record(scope, sent[0], sent[1], started)


def _content_length(headers: Iterable[tuple[bytes, bytes]] | None) -> int:
    for name, value in headers or ():
        if name.lower() == b"content-length":
            return int(value)
    return 0
