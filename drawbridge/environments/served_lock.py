"""A lock made for a client on another machine: an environment file's text in, the lock
file's text out (`POST /api/lock`, server/routes/locks.py, reached through cli/serving.py).

The same steps as `drawbridge lock` on the client (`environments.lock`), with the
caller's token, so the text is byte for byte the file the client writes itself; uv keeps
its cache in `uv_cache` (the server's locks only).

The requests go to `reach` (the server's own address), and the client knows the server as
`server`: channels the environment file names by a URL under `server` are asked for
under `reach`, and the lock's URLs, which are all the server's (its channels, the mirrors
it passes on, its files), are written under `server`. A channel named by a URL under
`reach` that the client does not use is refused, as the client refuses a URL of another
server.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tempfile
from pathlib import Path
from typing import Any

from drawbridge.bridge.resolve.uv_process import uv_binary
from drawbridge.environments.client import DrawbridgeClient
from drawbridge.environments.defaults import SystemBaseline
from drawbridge.environments.envfile import EnvironmentFile, parse_environment_file
from drawbridge.environments.errors import EnvironmentFileError
from drawbridge.environments.lock import Lock, lock_environment, write_lock
from drawbridge.environments.uv_run import UvRequest, UvRun

#: the uv runs of the last lock of each request (by `_key`) in this process, by platform,
#: with what they pinned: started again at once when the same request comes, so uv
#: resolves during the channel list and the conda solve, and the pinned projects' pages
#: are read meanwhile (a run is taken only if the solve asks it the same: uv_run.py)
_LAST_RUNS: dict[str, dict[str, tuple[UvRequest, tuple[str, ...]]]] = {}
#: the most requests remembered (a few KB each at most); the oldest go first
LAST_RUNS_KEPT = 256


def lock_for_client(
    text: str,
    file_name: str,
    server: str,
    reach: str,
    token: str | None,
    platforms: list[str],
    baseline: SystemBaseline,
    uv_cache: Path,
) -> dict[str, Any]:
    """{"lock": the lock file's text, "platforms": [{"platform", "conda", "pip"}]};
    EnvironmentFailure (its subclasses) with what stands in the way."""
    problem = baseline.problem()
    if problem is not None:
        raise EnvironmentFileError(f"{problem[0]}: {problem[1]}")
    environment = _reached(parse_environment_file(text, Path(file_name)), server, reach)
    key = _key(text, file_name, reach, token, platforms, baseline)
    uv = uv_binary()
    started = {
        platform: UvRun(request, uv, token, pinned, cache=uv_cache)
        for platform, (request, pinned) in _LAST_RUNS.get(key, {}).items()
    }
    client = DrawbridgeClient(reach, token)
    try:
        lock = lock_environment(
            environment, client, platforms, uv, baseline, started=started, uv_cache=uv_cache
        )
    finally:
        client.close()
        for run in started.values():  # those the lock did not take
            run.stop()
    _remember(key, lock)
    written = _lock_text(lock)
    if reach != server:
        written = written.replace(f"{reach}/", f"{server}/")
    return {"lock": written, "platforms": _counts(lock)}


def _key(
    text: str,
    file_name: str,
    reach: str,
    token: str | None,
    platforms: list[str],
    baseline: SystemBaseline,
) -> str:
    """The key of a lock's request: everything it is made from (in memory only)."""
    parts = [text, file_name, reach, token or "", *platforms, repr(baseline)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _remember(key: str, lock: Lock) -> None:
    """Keep the uv requests of `lock` and what they pinned under `key`, newest last."""
    _LAST_RUNS.pop(key, None)
    _LAST_RUNS[key] = {
        p.platform: (p.uv_request, tuple(package.name for package in p.pip))
        for p in lock.platforms
        if p.uv_request is not None
    }
    for oldest in list(_LAST_RUNS)[: len(_LAST_RUNS) - LAST_RUNS_KEPT]:  # a copy: locks run at once
        _LAST_RUNS.pop(oldest, None)


def _reached(environment: EnvironmentFile, server: str, reach: str) -> EnvironmentFile:
    """`environment` with its channels under `server` named under `reach`."""
    if reach == server:
        return environment
    channels = []
    for channel in environment.channels:
        if channel.startswith(f"{reach}/"):
            raise EnvironmentFileError(f"channel {channel!r} is not one of {server}'s")
        if channel.startswith(f"{server}/"):
            channel = reach + channel[len(server) :]
        channels.append(channel)
    return dataclasses.replace(environment, channels=channels)


def _lock_text(lock: Lock) -> str:
    with tempfile.TemporaryDirectory(prefix="drawbridge-lock-") as folder:
        path = Path(folder) / "drawbridge.lock"
        write_lock(lock, path)
        return path.read_text("utf-8")


def _counts(lock: Lock) -> list[dict[str, Any]]:
    return [
        {"platform": p.platform, "conda": len(p.conda), "pip": len(p.pip)} for p in lock.platforms
    ]
