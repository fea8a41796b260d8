"""`POST /api/lock`: `drawbridge lock` done by the server, for the thin client.

A lock's own work (the channel list, a conda solve, one uv run, a few index pages) takes
~50 ms once its modules are loaded; a fresh client process spent ~200 ms loading typer,
httpx and py-rattler before it began (docs/performance.md, "lock on the server"). So the
console script (`cli/lock_on_server.py`, standard library only) sends the environment
file here and writes the lock file that comes back. The server runs the very code the
client runs (`environments.lock`), as the caller (the request's token), against itself at
the URL the request came to: the lock file is byte for byte the one the client would
have written. uv keeps a cache in `<home>/cache/uv-locks` (index pages are `no-cache`, so
uv asks again each time and gets a 304; wheel metadata never changes under its name).

Anything but a lock is an answer the client takes as "lock here instead", which it does,
with its own messages and its own `--request` filing: an environment file that is not
valid, something that cannot be provided, options out of range, a URL that is not the one
this request came to (the server only ever asks itself), or LOCKS_AT_ONCE locks already
running in this worker (each holds a thread and a uv process: the server stays free for
the requests those locks make of it).
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from drawbridge.bridge.resolve.uv_process import uv_binary
from drawbridge.environments.client import DrawbridgeClient
from drawbridge.environments.defaults import SystemBaseline
from drawbridge.environments.envfile import parse_environment_file
from drawbridge.environments.errors import EnvironmentFailure
from drawbridge.environments.lock import Lock, lock_environment, write_lock
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
    glibc: str = SystemBaseline.glibc
    macos_intel: str = SystemBaseline.macos_x86
    macos_arm: str = SystemBaseline.macos_arm


@router.post(
    "/api/lock",
    summary="Lock an environment file (the thin `drawbridge lock` client's request)",
)
def lock_on_server(request: Request, asked: LockAsked) -> JSONResponse:
    ctx = context(request)
    ctx.identity(request)  # 401 for a token that is not valid, before any work
    own = str(request.base_url).rstrip("/")
    if asked.server.rstrip("/") != own:
        raise HTTPException(
            409, f"this request came to {own}, not {asked.server}: lock on the client"
        )
    baseline = SystemBaseline(
        glibc=asked.glibc, macos_x86=asked.macos_intel, macos_arm=asked.macos_arm
    )
    problem = baseline.problem()
    if problem is not None:
        raise HTTPException(422, f"{problem[0]}: {problem[1]}")
    if not _running.acquire(blocking=False):
        raise HTTPException(503, f"{LOCKS_AT_ONCE} locks are running: lock on the client")
    try:
        return JSONResponse(
            _locked(asked, own, token_from_request(request), baseline, ctx.home.cache_dir)
        )
    finally:
        _running.release()


def _locked(
    asked: LockAsked, own: str, token: str | None, baseline: SystemBaseline, cache: Path
) -> dict[str, Any]:
    """The lock file's text and what each platform installs; 422 with what went wrong."""
    server = DrawbridgeClient(own, token)
    try:
        environment = parse_environment_file(asked.environment, Path(asked.file_name))
        lock = lock_environment(
            environment,
            server,
            asked.platforms,
            uv_binary(),
            baseline,
            uv_cache=cache / UV_CACHE_NAME,
        )
    except EnvironmentFailure as error:
        raise HTTPException(422, str(error)) from None
    finally:
        server.close()
    return {"lock": _lock_text(lock), "platforms": _counts(lock)}


def _lock_text(lock: Lock) -> str:
    with tempfile.TemporaryDirectory(prefix="drawbridge-lock-") as folder:
        path = Path(folder) / "drawbridge.lock"
        write_lock(lock, path)
        return path.read_text("utf-8")


def _counts(lock: Lock) -> list[dict[str, Any]]:
    return [
        {"platform": p.platform, "conda": len(p.conda), "pip": len(p.pip)} for p in lock.platforms
    ]
