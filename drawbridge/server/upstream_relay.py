"""The relay's copies of an HTTP conda mirror's files in `<home>/cache/upstream-conda/`.

Packages and shards are downloaded once (they never change under their name); index files
are asked of the mirror with the copy's validators (a 304 when unchanged), and the last
copy stays when the mirror does not answer. The `/upstream/` routes, a channel's conda
files from a mirror base (`serve_mirror_file`) and the merged views of channels that have
a mirror as a base (`inherited`) all read through here.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import httpx
from fastapi import HTTPException, Request, Response

from drawbridge.channel.storage import write_bytes_atomic
from drawbridge.channel.upstream_conda import UpstreamConda, check_upstream_file
from drawbridge.server.responses import CACHE_IMMUTABLE, CACHE_INDEX, file_response

log = logging.getLogger("drawbridge")
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


def serve_mirror_file(
    request: Request,
    cache_dir: Path,
    mirror: UpstreamConda,
    subdir: str,
    filename: str,
    shard: bool,
) -> Response:
    """A mirror's file (`shard`: a CEP-16 shard) as a response: from disk for a local mirror,
    from the package cache, or relayed; 404 if it has none."""
    name = mirror.name
    if not check_upstream_file(subdir, filename, shard):
        raise HTTPException(404, f"{subdir}/{filename} is not a conda index file, shard or package")
    if shard:
        filename = f"shards/{filename}"
    is_package = shard or filename.endswith((".conda", ".tar.bz2"))  # shards are content-addressed
    cache_control = CACHE_IMMUTABLE if is_package else CACHE_INDEX
    media_type = "application/json" if filename.endswith(".json") else "application/octet-stream"
    root = mirror.local_root
    if root is not None:
        try:
            return file_response(request, root / subdir / filename, media_type, cache_control)
        except FileNotFoundError:
            raise HTTPException(404, f"upstream {name!r} has no {subdir}/{filename}") from None
    if is_package:
        cached = relay_copy(cache_dir, mirror, subdir, filename)
        if not cached.is_file():
            download_package(mirror.remote_url(subdir, filename), cached)
        return file_response(request, cached, media_type, cache_control)
    return _index_response(request, mirror, cache_dir, subdir, filename, media_type)


def _index_response(
    request: Request,
    mirror: UpstreamConda,
    cache_dir: Path,
    subdir: str,
    filename: str,
    media_type: str,
) -> Response:
    """A mirror's index file: fresh when the mirror answers, else the last copy, marked stale."""
    url = mirror.remote_url(subdir, filename)
    cached = relay_copy(cache_dir, mirror, subdir, filename)
    fresh = refresh_index(url, cached)
    if not cached.is_file():
        raise HTTPException(502, f"upstream mirror unreachable and nothing cached: {url}")
    response = file_response(request, cached, media_type, CACHE_INDEX)
    if not fresh:
        response.headers["Warning"] = '110 drawbridge "stale: the upstream mirror did not answer"'
        log.warning(
            "upstream mirror %s did not answer for %s/%s; served the last copy",
            mirror.name,
            subdir,
            filename,
        )
    return response
