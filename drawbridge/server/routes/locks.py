"""`POST /api/lock`: `drawbridge lock` done by the server, for the thin client.

A lock's own work (the channel list, a conda solve, one uv run, a few index pages) takes
~50 ms once its modules are loaded; a fresh client process spent ~200 ms loading typer,
httpx and py-rattler before it began (docs/performance.md, "`lock` on the server"). So
the console script (`cli/lock_on_server.py`, standard library only) sends the environment
file here and writes the lock file that comes back.

The lock itself is made by the client's own code (`environments.served_lock`), which the
server may not import (DESIGN.md: server and environments never import each other): the
`drawbridge serve` factory (`cli/serving.py`) hands it to `create_app` as a `LockMaker`,
kept on the app's state. It runs as the caller (the request's token) against this server
at the URL the request came to, so the lock file is byte for byte the one the client
would have written; uv keeps a cache in `<home>/cache/uv-locks`.

The server asks only itself, never a host a request names: the lock's requests go to this
server's own listening address (`reach`: loopback when it listens on every address or on
loopback, else the address it is bound to), and the URLs in the lock file are then
written with the URL the client used (`server`, which is the request's own scheme and
Host: the client's view of this server). A `Host` header is anyone's to write; it only
ever changes the text the caller gets back (`Host: 169.254.169.254` never makes the
server fetch from there). With `[server] public_url` set, every answer of this server is
written with that URL whatever the request's Host, so the lock asks itself through it
(the operator's URL; it must be reachable from the server).

Anything but a lock is an answer the client takes as "lock here instead", which it does,
with its own messages and its own `--request` filing: no lock maker (404), a URL other
than the one the request came to, or no address of its own to ask (409), a lock the
maker cannot make (422, with the reason), or
LOCKS_AT_ONCE locks already running in this worker (503: each holds a thread and a uv
process, and the server stays free for the requests those locks make of it).
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field


from drawbridge.server.auth import token_from_request
from drawbridge.server.context import context

router = APIRouter()

#: locks one worker runs at once; one more is answered 503 (the client locks itself)
LOCKS_AT_ONCE = 4
#: uv's cache folder for the server's locks, under the home's cache folder
UV_CACHE_NAME = "uv-locks"
#: the longest environment file taken (a real one is a few hundred bytes)
MAX_ENVIRONMENT_FILE = 256 * 1024

_running = threading.BoundedSemaphore(LOCKS_AT_ONCE)


class LockAsked(BaseModel):
    """A `drawbridge lock` command, as the thin client sends it."""

    #: the environment file's text, and its name (named in messages; the default env name)
    environment: str = Field(max_length=MAX_ENVIRONMENT_FILE)
    file_name: str = Field(default="environment.yml", min_length=1, max_length=255)
    #: the server's URL as the client has it: the lock's URLs start with it
    server: str = Field(min_length=1, max_length=2048)
    platforms: list[str] = Field(min_length=1, max_length=16)
    #: the machines' baseline, as lock's options give it (None: the lock's default)
    glibc: Optional[str] = Field(default=None, max_length=16)
    macos_intel: Optional[str] = Field(default=None, max_length=16)
    macos_arm: Optional[str] = Field(default=None, max_length=16)


@dataclass(frozen=True)
class LockOrder:
    """What a `LockMaker` is given: the request, the server's URL as the client has it
    (the lock's URLs start with it), the URL the lock's requests go to (this server
    itself), the caller's token and the folder for uv's cache."""

    asked: LockAsked
    server: str
    reach: str
    token: str | None
    uv_cache: Path


class LockRefused(Exception):
    """A lock the maker cannot make (answered 422 with the reason)."""


#: makes the lock of an order: {"lock": the file's text, "platforms": [{"platform",
#: "conda", "pip"}]}, or raises LockRefused
LockMaker = Callable[[LockOrder], dict[str, Any]]


@router.post(
    "/api/lock",
    summary="Lock an environment file (the thin `drawbridge lock` client's request)",
)
def lock_on_server(request: Request, asked: LockAsked) -> JSONResponse:
    ctx = context(request)
    ctx.identity(request)  # 401 for a token that is not valid, before any work
    maker: LockMaker | None = getattr(request.app.state, "lock_maker", None)
    if maker is None:
        raise HTTPException(404, "this server makes no locks: lock on the client")
    own = str(request.base_url).rstrip("/")
    if asked.server.rstrip("/") != own:
        raise HTTPException(
            409, f"this request came to {own}, not {asked.server}: lock on the client"
        )
    reach = own if ctx.home.server.public_url else _own_address(request.scope.get("server"))
    if reach is None:
        raise HTTPException(409, "this server cannot tell its own address: lock on the client")
    if not _running.acquire(blocking=False):
        raise HTTPException(503, f"{LOCKS_AT_ONCE} locks are running: lock on the client")
    try:
        cache = ctx.home.cache_dir / UV_CACHE_NAME
        order = LockOrder(asked, own, reach, token_from_request(request), cache)
        return JSONResponse(maker(order))
    except LockRefused as refused:
        raise HTTPException(422, str(refused)) from None
    finally:
        _running.release()


def _own_address(bound: Any) -> str | None:
    """The URL of this server's own listening socket, `bound` (host, port) as the ASGI
    server gives it (granian: the address it listens on): loopback when it listens on
    every address or on loopback, else that address; None if it is not an address."""
    try:
        listening = ipaddress.ip_address(str(bound[0]))
        port = int(bound[1])
    except (ValueError, TypeError, IndexError):
        return None
    if listening.is_unspecified or listening.is_loopback:
        host = "[::1]" if listening.version == 6 else "127.0.0.1"
    else:
        host = f"[{listening}]" if listening.version == 6 else str(listening)
    return f"http://{host}:{port}"
