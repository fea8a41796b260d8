"""Serving with real clients and granian: py-rattler and pip see a release published after
their first solve or download, and the access log is on by default on stderr.

The in-process half is `http/test_serving.py`."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import httpx
from builders import make_conda_tar_bz2, make_wheel
from servers import start_server

from drawbridge.channel.tokens import Role


def test_rattler_sees_a_package_published_a_second_after_its_first_solve(tmp_path: Path):
    """Two solves sharing one repodata cache folder, as two conda/pixi runs on one machine do."""
    import rattler

    server = start_server(tmp_path / "home")
    try:
        server.publish(make_conda_tar_bz2(tmp_path / "d", "late", "1.0"))
        cache = tmp_path / "rattler-cache"

        def newest() -> str:
            gateway = rattler.Gateway(cache_dir=cache)
            channel = rattler.Channel(f"{server.url}/main/conda")
            records = asyncio.run(
                rattler.solve([channel], ["late"], gateway=gateway, platforms=["noarch"])
            )
            return str(records[0].version)

        assert newest() == "1.0"
        assert any(cache.rglob("*")), "rattler kept no cache: the test would prove nothing"
        time.sleep(1)
        server.publish(make_conda_tar_bz2(tmp_path / "e", "late", "2.0"))
        assert newest() == "2.0"
    finally:
        server.stop()


def test_pip_sees_a_release_published_after_its_first_download(tmp_path: Path):
    """pip keeps simple pages in its HTTP cache (CacheControl): with a max-age it would
    reuse the old page, with no-cache it revalidates and finds the new release."""
    import subprocess
    import sys

    from clients import client_env

    server = start_server(tmp_path / "home")
    try:
        server.publish(make_wheel(tmp_path / "d", "soon", "1.0"))

        def download(into: str) -> list[str]:
            out = tmp_path / into
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "soon",
                    "--no-deps",
                    "-d",
                    str(out),
                    "-q",
                    "--index-url",
                    f"{server.url}/main/simple/",
                    "--cache-dir",
                    str(tmp_path / "pip-cache"),
                    "--trusted-host",
                    "127.0.0.1",
                ],  # pip caches plain HTTP only for a trusted host
                check=True,
                env=client_env(),
                capture_output=True,
            )
            return sorted(p.name for p in out.iterdir())

        assert download("first") == ["soon-1.0-py3-none-any.whl"]
        assert any((tmp_path / "pip-cache" / "http-v2").rglob("*")), (
            "pip cached nothing: the test proves nothing"
        )
        server.publish(make_wheel(tmp_path / "e", "soon", "2.0"))
        assert download("second") == ["soon-2.0-py3-none-any.whl"]
    finally:
        server.stop()


def test_access_log_is_on_by_default_on_stderr(tmp_path: Path):
    server = start_server(tmp_path / "home")
    try:
        package = make_wheel(
            tmp_path / "d", "big", "1.0", extra_entries={"big/blob.bin": os.urandom(3_000_000)}
        )
        server.publish(package)
        url = f"{server.url}/main/files/{package.name}"
        body = httpx.get(url).content  # granian sends it with pathsend
        assert hashlib.sha256(body).digest() == hashlib.sha256(package.read_bytes()).digest()
        token = server.token(Role.reader)
        assert httpx.get(f"{server.url}/t/{token}/main/simple/big/").status_code == 200
        log = tmp_path / f"server-{server.url.rsplit(':', 1)[1]}.log"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "/t/***/main/simple/big/" not in log.read_text():
            time.sleep(0.1)
        text = log.read_text()
        assert f'"GET /main/files/{package.name} HTTP/1.1" 200 {len(body)} ' in text
        assert "/t/***/main/simple/big/" in text and token not in text
    finally:
        server.stop()
