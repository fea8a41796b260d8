"""The relay's copies of an HTTP conda mirror's files in `<home>/cache/upstream-conda/`.

Packages and shards are downloaded once (they never change under their name); index files
are asked of the mirror with the copy's validators (a 304 when unchanged), and the last
copy stays when the mirror does not answer. The `/upstream/` routes and the merged views
of channels that have a mirror as a base (`inherited`) both read through here.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import httpx
from fastapi import HTTPException

from drawbridge.channel.storage import write_bytes_atomic
from drawbridge.channel.upstream_conda import UpstreamConda

UPSTREAM_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


def relay_copy(cache_dir: Path, mirror: UpstreamConda, subdir: str, filename: str) -> Path:
    """Where the relay keeps its copy of a mirror's file."""
    return cache_dir / "upstream-conda" / mirror.name / subdir / filename


def index_copy(
    cache_dir: Path, mirror: UpstreamConda, subdir: str, filename: str, refresh: bool
) -> Path | None:
    """The relay's copy of a mirror's index file, asked of the mirror first with `refresh`;
    None if the mirror has none (or never answered)."""
    cached = relay_copy(cache_dir, mirror, subdir, filename)
    if refresh:
        try:
            refresh_index(mirror.remote_url(subdir, filename), cached)
        except HTTPException:  # the mirror has no such file
            return None
    return cached if cached.is_file() else None


def download_package(url: str, target: Path) -> None:
    """Fetch a package into the cache atomically; a failed download leaves nothing behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    try:
        with (
            os.fdopen(handle, "wb") as out,
            httpx.stream("GET", url, timeout=UPSTREAM_TIMEOUT) as response,
        ):
            if response.status_code == 404:
                raise HTTPException(404, f"the upstream mirror has no {url.rsplit('/', 2)[-2:]}")
            if response.status_code != 200:
                raise HTTPException(
                    502, f"upstream mirror answered {response.status_code} for {url}"
                )
            for chunk in response.iter_bytes(1 << 20):
                out.write(chunk)
        os.replace(partial, target)
    except httpx.HTTPError as error:
        raise HTTPException(502, f"upstream mirror unreachable: {url}: {error}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


def refresh_index(url: str, cached: Path) -> bool:
    """Bring the cached copy of a mirror's index file up to date; False if the mirror failed.

    The mirror is asked with the cached copy's validators, so an unchanged file costs a 304.
    A 404 is passed on; a mirror that cannot be reached leaves the last copy in place.
    """
    validators_path = cached.with_name(cached.name + ".validators.json")
    validators = (
        json.loads(validators_path.read_text())
        if cached.is_file() and validators_path.is_file()
        else {}
    )
    headers = {
        k: v
        for k, v in (
            ("If-None-Match", validators.get("etag")),
            ("If-Modified-Since", validators.get("last-modified")),
        )
        if v
    }
    try:
        answer = httpx.get(url, headers=headers, timeout=UPSTREAM_TIMEOUT)
    except httpx.HTTPError:
        return False
    if answer.status_code == 404:
        raise HTTPException(404, f"the upstream mirror has no {url}")
    if answer.status_code == 304 and cached.is_file():
        return True
    if answer.status_code != 200:
        return False
    cached.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(cached, answer.content)
    kept = {k: answer.headers[k] for k in ("etag", "last-modified") if k in answer.headers}
    write_bytes_atomic(validators_path, json.dumps(kept).encode())
    return True
