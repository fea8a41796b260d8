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

The server asks only itself, never a host a request names: a lock makes requests to the
URL the request came to, so that URL must be known to be this server's, not merely the
request's `Host` header (which anyone can write: `Host: 169.254.169.254` would have the
server fetch from there and answer what it said). It is when `[server] public_url` is set
(the operator's word; the request's scheme and Host are replaced by it), or when it is
this server's own listening address: a loopback address (or `localhost`) with the port it
listens on, if it listens on every address or on loopback, or the very address it is
bound to. Clients that reach it by another name lock themselves unless `public_url` is
set (docs/operating.md, "Locks made by the server").

Anything but a lock is an answer the client takes as "lock here instead", which it does,
with its own messages and its own `--request` filing: no lock maker (404), a URL that is
not this server's (409), a lock the maker cannot make (422, with the reason), or
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
from urllib.parse import urlsplit

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
    """What a `LockMaker` is given: the request, the server's own URL, the caller's token
    and the folder for uv's cache."""

    asked: LockAsked
    server: str
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
    if not (ctx.home.server.public_url or _own_address(own, request.scope.get("server"))):
        raise HTTPException(
            409,
            f"{own} is not known to be this server's URL (set [server] public_url): "
            "lock on the client",
        )
    if not _running.acquire(blocking=False):
        raise HTTPException(503, f"{LOCKS_AT_ONCE} locks are running: lock on the client")
    try:
        cache = ctx.home.cache_dir / UV_CACHE_NAME
        return JSONResponse(maker(LockOrder(asked, own, token_from_request(request), cache)))
    except LockRefused as refused:
        raise HTTPException(422, str(refused)) from None
    finally:
        _running.release()


def _own_address(url: str, bound: Any) -> bool:
    """Whether `url` reaches this server's own listening socket, `bound` (host, port) as
    the ASGI server gives it: a loopback address or `localhost` when it listens on every
    address or on loopback, else exactly the address it is bound to; and its port."""
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}[parts.scheme]
        bound_host, bound_port = str(bound[0]), int(bound[1])
        listening = ipaddress.ip_address(bound_host)
    except (ValueError, TypeError, IndexError, KeyError):
        return False
    if port != bound_port or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        host: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address("127.0.0.1")
    else:
        try:
            host = ipaddress.ip_address(parts.hostname)
        except ValueError:  # a name: whatever it resolves to is not known to be this server
            return False
    if listening.is_unspecified or listening.is_loopback:
        return host.is_loopback or host == listening
    return host == listening
