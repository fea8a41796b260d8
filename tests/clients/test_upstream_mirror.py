"""Upstream conda mirrors passed through Drawbridge: a local folder (in-process) and an HTTP
mirror (a real server, for rattler)."""

from __future__ import annotations

import asyncio
import hashlib
import http.server
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import rattler
from databases import new_home
from servers import serve_in_process, start_server, static_http_server


@pytest.fixture
def http_mirror(
    tmp_path: Path, upstream_channel: Path
) -> Iterator[tuple[str, http.server.ThreadingHTTPServer]]:
    """The test upstream served by a plain HTTP server at /conda-forge/."""
    root = tmp_path / "mirror-root"
    root.mkdir()
    (root / "conda-forge").symlink_to(upstream_channel)
    with static_http_server(root) as httpd:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/conda-forge", httpd


def _home_with_mirror(tmp_path: Path, location: str) -> Path:
    home = new_home(tmp_path / "home")
    home.config_path.write_text(
        home.config_path.read_text().replace(
            "upstream_conda = []", f'upstream_conda = ["{location}"]'
        )
    )
    return home.root


def test_http_mirror_is_relayed_and_its_packages_cached(tmp_path: Path, http_mirror):
    location, httpd = http_mirror
    server = start_server(_home_with_mirror(tmp_path, location))
    try:
        listing = httpx.get(f"{server.url}/api/channels").json()
        assert listing["upstream"] == {
            "conda-forge": {"conda": f"{server.url}/upstream/conda-forge"}
        }
        records = asyncio.run(
            rattler.solve(
                [rattler.Channel(f"{server.url}/upstream/conda-forge")],
                ["python 3.11.*"],
                platforms=["linux-64", "noarch"],
            )
        )
        python = next(r for r in records if r.name.normalized == "python")
        assert python.url.startswith(f"{server.url}/upstream/conda-forge/linux-64/")
        first = httpx.get(python.url)
        assert first.status_code == 200 and hashlib.sha256(first.content).digest() == python.sha256
        repodata_url = f"{server.url}/upstream/conda-forge/linux-64/repodata.json"
        repodata = httpx.get(repodata_url)
        assert repodata.status_code == 200 and "Warning" not in repodata.headers
        assert (
            httpx.get(repodata_url, headers={"If-None-Match": repodata.headers["etag"]}).status_code
            == 304
        )
        httpd.shutdown()
        httpd.server_close()  # the mirror goes away: Drawbridge still serves what it has
        again = httpx.get(python.url)
        assert again.status_code == 200 and again.content == first.content
        stale = httpx.get(repodata_url)
        assert (
            stale.status_code == 200
            and stale.content == repodata.content
            and "stale" in stale.headers["Warning"]
        )
        never_fetched = httpx.get(f"{server.url}/upstream/conda-forge/noarch/repodata.json")
        assert (
            never_fetched.status_code == 502 and "nothing cached" in never_fetched.json()["detail"]
        )
    finally:
        server.stop()


def test_local_mirror_refusals(tmp_path: Path, upstream_channel: Path):
    name = upstream_channel.name
    with serve_in_process(_home_with_mirror(tmp_path, str(upstream_channel))) as app:
        assert app.get(f"/upstream/{name}/linux-64/repodata.json").status_code == 200
        for path, status in (
            ("/upstream/nope/linux-64/repodata.json", 404),
            (f"/upstream/{name}/linux-64/..%2F..%2Fsecret.conda", 400),  # a '..' segment
            (f"/upstream/{name}/not-a-subdir/repodata.json", 404),
            (f"/upstream/{name}/linux-64/notes.txt", 404),
            (f"/upstream/{name}/linux-64/missing-1.0-0.conda", 404),
        ):
            answer = app.get(path)
            assert answer.status_code == status, (path, answer.status_code)
        assert (
            "no upstream conda channel 'nope'"
            in app.get("/upstream/nope/linux-64/repodata.json").text
        )
