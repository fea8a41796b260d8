"""Verified, cached downloads: fetched once, checked against the sha256 an index claims,
kept by that hash; and the one retry rule every upstream request follows.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from drawbridge.bridge.errors import HashMismatch, UpstreamError

RETRIES = 3
T = TypeVar("T")


class _Transient(Exception):
    """An answer worth asking again for (a 5xx)."""


def with_retries(attempt: Callable[[], T], url: str) -> T:
    """Run `attempt`, again after a pause when the network fails or the server answers 5xx;
    UpstreamError naming `url` once RETRIES attempts failed."""
    for number in range(1, RETRIES + 1):
        try:
            return attempt()
        except (httpx.TransportError, _Transient) as error:
            if number == RETRIES:
                raise UpstreamError(f"cannot get {url}: {error} ({RETRIES} attempts)") from error
            time.sleep(0.5 * 2 ** (number - 1))
    raise AssertionError("unreachable")


def get(client: httpx.Client, url: str, **kwargs: Any) -> httpx.Response:
    """GET with retries; any answer below 500 is returned for the caller to judge."""

    def attempt() -> httpx.Response:
        response = client.get(url, **kwargs)
        if response.status_code >= 500:
            raise _Transient(f"answered {response.status_code}")
        return response

    return with_retries(attempt, url)


class DownloadCache:
    """Downloads kept by sha256 (`cache/sha256/<ab>/<hash>/<filename>`); never fetched twice."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str, filename: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256 / filename

    def get(self, sha256: str | None, filename: str) -> Path | None:
        if not sha256:
            return None
        path = self.path(sha256, filename)
        return path if path.is_file() else None

    def put(self, temporary: Path, sha256: str, filename: str) -> Path:
        target = self.path(sha256, filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
        return target


def fetch_verified(
    client: httpx.Client, url: str, sha256: str | None, filename: str, cache: DownloadCache
) -> Path:
    """The file at `url`, from the cache or downloaded, whose sha256 is `sha256`.

    A file whose index gives no sha256 is refused (it could not be verified); one whose
    bytes hash differently is discarded with HashMismatch.
    """
    cached = cache.get(sha256, filename)
    if cached:
        return cached
    if not sha256:
        raise HashMismatch(f"{filename}: the index gives no sha256; refusing an unverifiable file")
    cache.root.mkdir(parents=True, exist_ok=True)
    temporary = cache.root / f".download-{sha256}-{os.getpid()}-{threading.get_ident()}"
    try:
        with_retries(lambda: _download(client, url, temporary), url)
        from drawbridge.channel.distributions import sha256_file  # not loaded by page reads

        actual = sha256_file(temporary)
        if actual != sha256:
            raise HashMismatch(
                f"{filename}: {url} served sha256 {actual} but its index claims {sha256}; "
                "the file was discarded"
            )
        return cache.put(temporary, actual, filename)
    finally:
        temporary.unlink(missing_ok=True)


def _download(client: httpx.Client, url: str, target: Path) -> None:
    with target.open("wb") as out, client.stream("GET", url) as response:
        if response.status_code >= 500:
            raise _Transient(f"answered {response.status_code}")
        if response.status_code != 200:
            raise UpstreamError(f"{url} answered {response.status_code}")
        for chunk in response.iter_bytes(1024 * 1024):
            out.write(chunk)
