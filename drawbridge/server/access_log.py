"""The access log: one line per request, common log format plus seconds taken, tokens masked.

    127.0.0.1 - - [29/Nov/2026:05:14:00 +0000] "GET /t/***/main/conda/noarch/repodata.json HTTP/1.1" 200 5120 0.000231

The last field is the time from the request's arrival to the response being handed to the
server (a file sent with `pathsend` is still streaming then). A token in a `/t/<token>/`
path is written as `***`; no request header is ever written, so neither is an
Authorization header. Each line is one `write` to a file opened for appending, so the
workers of one server can share a file; rotate it with copytruncate.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import BinaryIO

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: what a request line may not carry into the log as is: quotes, backslashes, controls, non-ASCII
_UNSAFE = re.compile(r'[\x00-\x1f"\\\x7f-\xff]')
TOKEN_MASK = "***"


def open_destination(destination: str, home_root: Path) -> BinaryIO | None:
    """The stream `[server] access_log` names: "-" standard error, "" none, else a file.

    A relative path is taken from the home. Raises OSError if the file cannot be opened.
    """
    if destination == "":
        return None
    if destination == "-":
        return open(2, "wb", buffering=0, closefd=False)
    path = Path(destination)
    if not path.is_absolute():
        path = home_root / path
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab", buffering=0)  # unbuffered: one write per line, O_APPEND


def mask_token(target: str) -> str:
    """`target` (a path) with the token of a `/t/<token>/` prefix replaced by `***`."""
    if not target.startswith("/t/"):
        return target
    _, slash, rest = target[3:].partition("/")
    return f"/t/{TOKEN_MASK}{slash}{rest}"


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
    """ASGI middleware writing one line per HTTP request to `stream`; outermost, so it sees
    the path as the client sent it (before the token prefix is taken off)."""

    def __init__(self, app, stream: BinaryIO) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.stream = stream
        self.clock = _Clock()

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # [status, body bytes, headers of the start message]
        sent: list = [500, 0, None]

        async def logged_send(message) -> None:  # type: ignore[no-untyped-def]
            kind = message["type"]
            if kind == "http.response.body":
                sent[1] += len(message.get("body", b""))
            elif kind == "http.response.start":
                sent[0] = message["status"]
                sent[2] = message.get("headers")
            elif kind == "http.response.pathsend":
                sent[1] = _content_length(sent[2])
            await send(message)

        try:
            await self.app(scope, receive, logged_send)
        finally:
            self._write(scope, sent[0], sent[1], time.perf_counter() - started)

    def _write(self, scope, status: int, size: int, seconds: float) -> None:  # type: ignore[no-untyped-def]
        path, raw = scope["path"], scope.get("raw_path")
        # the decoded path decides, as for TokenPrefixMiddleware: `/%74/<token>/` is masked too
        target = mask_token(path) if path.startswith("/t/") else raw.decode("latin-1") if raw else path
        if query := scope.get("query_string"):
            target = f"{target}?{query.decode('latin-1')}"
        if _UNSAFE.search(target):
            target = _escape(target)
        client = scope.get("client")
        line = (
            f'{client[0] if client else "-"} - - {self.clock.now()} '
            f'"{_escape(scope["method"])} {target} HTTP/{scope.get("http_version", "1.1")}" '
            f'{status} {size or "-"} {seconds:.6f}\n'
        )
        try:
            self.stream.write(line.encode("ascii", "backslashreplace"))
        except (OSError, ValueError):  # a full disk or a closed stream must not fail the request
            pass


def _content_length(headers) -> int:  # type: ignore[no-untyped-def]
    for name, value in headers or ():
        if name.lower() == b"content-length":
            return int(value)
    return 0
