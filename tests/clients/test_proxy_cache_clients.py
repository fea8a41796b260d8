"""Anonymous reads from nginx's cache (`[server] proxy_cache_seconds`): a real nginx with
proxy_cache, configured as docs/operating.md shows, in front of a real `drawbridge serve`.

What must hold: anonymous reads of a public channel (pages, repodata, files) are answered
by nginx, reaching Drawbridge about once per `proxy_cache_seconds`; nothing read with a
token, nothing of a private channel and nothing the routes answer is ever kept; a publish
and a permission change reach anonymous readers within those seconds; `X-Accel-Expires`
never reaches a client. `accel_redirect_prefix` is set too (docs/operating.md, "Files sent
by nginx"): what is read with a token is still sent by nginx from the home, and so is
every package file over `proxy_cache_max_file_mb`, which the cache never keeps.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from builders import make_conda_tar_bz2, make_wheel
from clients import imported_value, pip_install, pyenv_python, solve, uv_install
from commands import invoke_drawbridge
from nginx import (
    ACCEL_PREFIX,
    accel_location,
    home_with_a_private_channel,
    require_nginx,
    start_nginx,
    stop_nginx,
)
from servers import Server, start_server

from drawbridge.channel import shards
from drawbridge.channel.tokens import Role

SECONDS = 2

#: the http-block, server-block and location directives of docs/operating.md, "Anonymous
#: reads from nginx's cache" (the cache folder and zone name aside; the server block's are
#: given to each location)
CACHE_PATH = (
    "proxy_cache_path {folder}/cache levels=1:2 keys_zone=drawbridge:10m max_size=1g"
    " inactive=60m use_temp_path=off;"
)
CACHE_LOCATION = """
    proxy_cache drawbridge;
    proxy_cache_key "$scheme://$http_host$request_uri $http_accept $http_accept_encoding";
    proxy_cache_bypass $http_authorization;
    proxy_no_cache $http_authorization;
    proxy_cache_revalidate on;
    proxy_cache_use_stale updating;
    open_file_cache max=10000 inactive=60s;
    tcp_nopush off;
"""
#: the pages' own location (`sendfile off`)
PAGES_LOCATION = """
    location ~ /simple/|/shards/ {{
      proxy_pass {upstream};
      proxy_set_header Host $http_host;
      sendfile off;
      {cache}
    }}
"""

PAGE = "/main/simple/open-lib/"
FILE = "/main/conda/noarch/open-data-1.0-0.tar.bz2"
REPODATA = "/main/conda/noarch/repodata.json"
REPODATA_ZST = "/main/conda/noarch/repodata.json.zst"
SHARD_INDEX = "/main/conda/noarch/repodata_shards.msgpack.zst"
PRIVATE_PAGE = "/secret/simple/hidden-lib/"
LARGE = "/main/files/large_lib-1.0-py2.py3-none-any.whl"  # 1.5 MiB, over the limit


@dataclass
class Cached:
    server: Server  # Drawbridge, asked directly
    url: str  # nginx in front of it, with its cache
    reader: str  # a token that may read the private channel
    log: Path  # Drawbridge's access log: what reached it
    folder: Path


@pytest.fixture(scope="module")
def cached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cached]:
    require_nginx()
    folder = tmp_path_factory.mktemp("proxy-cache")
    config = (
        f'[server]\nproxy_cache_seconds = {SECONDS}\naccess_log = "access.log"\n'
        f'accel_redirect_prefix = "{ACCEL_PREFIX}"\nproxy_cache_max_file_mb = 1\n'
    )
    home = home_with_a_private_channel(folder / "home", config, "open")
    server = start_server(home.root)
    nginx = None
    try:
        server.publish(make_wheel(folder / "w", "open-lib", "1.0"))
        server.publish(
            make_conda_tar_bz2(folder / "d", "open-data", "1.0", members={"b": b"x" * 200_000})
        )
        server.publish(make_wheel(folder / "w", "hidden-lib", "1.0"), channel="secret")
        server.publish(make_wheel(folder / "w", "soon-private", "1.0"), channel="open")
        server.publish(make_conda_tar_bz2(folder / "d", "soon-hidden", "1.0"), channel="open")
        large = make_wheel(
            folder / "w",
            "large-lib",
            "1.0",
            tag="py2.py3-none-any",
            module="large_lib",
            extra_entries={"large_lib/data.bin": os.urandom(3 * 1024 * 1024 // 2)},
        )
        server.publish(large)
        reader = server.token(Role.reader, "alice")
        nginx, url = start_nginx(
            folder / "nginx",
            server.url,
            locations=PAGES_LOCATION.format(upstream=server.url, cache=CACHE_LOCATION)
            + accel_location(home.root),
            http=CACHE_PATH.format(folder=folder),
            proxy=CACHE_LOCATION,
        )
        yield Cached(server, url, reader, home.root / "access.log", folder)
    finally:
        stop_nginx(nginx)
        server.stop()


def reached(cached: Cached, path: str) -> int:
    """How many requests for `path` reached Drawbridge (its access log), once it is written."""
    time.sleep(0.2)
    return sum(f" {path} HTTP/" in line for line in cached.log.read_text().splitlines())


def test_anonymous_reads_of_a_public_channel_come_from_the_cache(cached: Cached):
    for path in (PAGE, FILE, REPODATA, REPODATA_ZST, SHARD_INDEX):
        # the first read of repodata after a publish makes it, in the routes: not kept
        httpx.get(cached.server.url + path)
        direct = httpx.get(cached.server.url + path)
        assert direct.status_code == 200
        assert direct.headers["x-accel-expires"] == str(SECONDS)
        before = reached(cached, path)
        started = time.monotonic()
        for _ in range(30):
            through = httpx.get(cached.url + path)
            assert through.status_code == 200
            assert through.content == direct.content
            assert "x-accel-expires" not in through.headers
        windows = int((time.monotonic() - started) / SECONDS) + 1
        assert reached(cached, path) - before <= windows, path  # one fill per window
    # pip's JSON and a browser's HTML are kept apart, each the right one
    json_page = httpx.get(
        cached.url + PAGE, headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    assert json_page.headers["content-type"].startswith("application/vnd.pypi.simple.v1+json")
    html_page = httpx.get(cached.url + PAGE, headers={"Accept": "text/html"})
    assert html_page.headers["content-type"].startswith("text/html")


def test_reads_with_a_token_and_private_channels_are_never_kept(cached: Cached):
    before = reached(cached, PRIVATE_PAGE)
    for _ in range(5):
        allowed = httpx.get(cached.url + PRIVATE_PAGE, auth=("__token__", cached.reader))
        assert allowed.status_code == 200
        assert "x-accel-expires" not in allowed.headers
    assert reached(cached, PRIVATE_PAGE) - before == 5  # every one asked Drawbridge
    # the routes mark what they answer never to be kept, whoever asks
    direct = httpx.get(cached.server.url + PRIVATE_PAGE, auth=("__token__", cached.reader))
    assert direct.headers["x-accel-expires"] == "0"
    refused = httpx.get(cached.url + PRIVATE_PAGE)
    assert refused.status_code in (401, 404)
    assert "hidden_lib" not in refused.text
    # a token read of a public page goes past the cache too
    before = reached(cached, PAGE)
    httpx.get(cached.url + PAGE, auth=("__token__", cached.reader))
    httpx.get(cached.url + PAGE, auth=("__token__", cached.reader))
    assert reached(cached, PAGE) - before == 2


def test_a_publish_and_a_permission_change_reach_anonymous_readers_in_time(cached: Cached):
    page = "/open/simple/soon-private/"
    assert httpx.get(cached.url + page).status_code == 200  # kept now
    # a file read with a token only: the routes answer it (immutable for the client), and
    # nginx must not keep it for the anonymous readers who may not read it tomorrow
    file = "/open/conda/noarch/soon-hidden-1.0-0.tar.bz2"
    with_token = httpx.get(cached.url + file, auth=("__token__", cached.reader))
    assert with_token.status_code == 200
    assert "immutable" in with_token.headers["cache-control"]
    cached.server.publish(make_wheel(cached.folder / "w2", "soon-private", "2.0"), channel="open")
    deadline = time.monotonic() + SECONDS + 1.5
    while "soon_private-2.0" not in httpx.get(cached.url + page).text:
        assert time.monotonic() < deadline, "the publish did not reach the cache in time"
        time.sleep(0.1)
    done = invoke_drawbridge(
        "channel", "permissions", "open", "--read", "user:alice", home=cached.server.home.root
    )
    assert done.returncode == 0, done.stdout + done.stderr
    deadline = time.monotonic() + SECONDS + 1.5
    while httpx.get(cached.url + page).status_code == 200:
        assert time.monotonic() < deadline, "a private channel was still read from the cache"
        time.sleep(0.1)
    for _ in range(3):  # and it stays refused
        assert httpx.get(cached.url + page).status_code in (401, 404)
        assert httpx.get(cached.url + file).status_code in (401, 404)
        time.sleep(SECONDS / 2)


PY27 = pyenv_python("2.7.18")


def test_pip_uv_and_rattler_install_through_the_cache(cached: Cached, tmp_path: Path):
    """The real clients, each with its own Accept and Accept-Encoding, install through the
    cache, one after the other within its window: the newest pip (PEP 691 JSON), Python
    2.7's pip 19 where pyenv has it (HTML only: a JSON page kept for pip would break it),
    uv, and py-rattler's solve (repodata)."""
    wheel = make_wheel(tmp_path, "cached-lib", "1.0", tag="py2.py3-none-any", module="cached_lib")
    cached.server.publish(wheel)
    index = f"{cached.url}/main/simple/"
    clients: list[tuple[str, Path | None]] = [("pip", None)]
    clients += [("pip", PY27)] if PY27.exists() else []
    clients += [("uv", None)]
    for number, (tool, python) in enumerate(clients):
        target = tmp_path / f"{tool}{number}"
        install = pip_install if tool == "pip" else uv_install
        installed = install(index, target, "cached-lib", python=python)
        assert installed.returncode == 0, installed.stdout + installed.stderr
        assert imported_value(target, "cached_lib", python) == "1.0"
    records = solve([f"{cached.url}/main/conda"], ["open-data"])
    assert [(r.name.normalized, str(r.version)) for r in records] == [("open-data", "1.0")]


def test_token_reads_are_sent_by_nginx_from_the_home(cached: Cached):
    """With `accel_redirect_prefix` as well, a read with a token (never kept) is answered
    with X-Accel-Redirect and nginx sends the file, a shard included: its redirect path
    holds `/shards/`, which the pages' regex location must not take (the internal location
    is `^~`)."""
    folder = cached.server.home.channel("main").conda_dir / "noarch"
    digest = next(iter((shards.read_index(folder) or {"shards": {}})["shards"].values()))
    shard = f"/main/conda/noarch/shards/{digest.hex()}.msgpack.zst"
    for path in (FILE, shard, "/secret/files/hidden_lib-1.0-py3-none-any.whl"):
        direct = httpx.get(cached.server.url + path, auth=("__token__", cached.reader))
        assert direct.headers["x-accel-redirect"].startswith(ACCEL_PREFIX), path
        through = httpx.get(cached.url + path, auth=("__token__", cached.reader))
        assert through.status_code == 200, path
        assert (
            through.content
            == (
                cached.server.home.root
                / direct.headers["x-accel-redirect"].removeprefix(ACCEL_PREFIX)
            ).read_bytes()
        ), path


def test_files_over_the_limit_are_sent_from_the_home_and_never_kept(cached: Cached, tmp_path: Path):
    """`proxy_cache_max_file_mb = 1`: every anonymous read of a 1.5 MiB wheel is checked by
    Drawbridge and sent by nginx from the home (the right bytes, no internal header), none
    is copied into the cache, and pip installs it through the cache."""
    expected = (cached.server.home.channel("main").files_dir / LARGE.rsplit("/", 1)[1]).read_bytes()
    before = reached(cached, LARGE)
    for _ in range(3):
        through = httpx.get(cached.url + LARGE)
        assert through.status_code == 200
        assert through.content == expected
        assert not {"x-accel-redirect", "x-accel-expires"} & set(through.headers)
    assert reached(cached, LARGE) - before == 3  # none answered from the cache
    kept = [path for path in (cached.folder / "cache").rglob("*") if path.is_file()]
    assert kept, "the cache keeps the small answers"
    assert all(path.stat().st_size < 1024 * 1024 for path in kept)
    target = tmp_path / "pip"
    installed = pip_install(f"{cached.url}/main/simple/", target, "large-lib")
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert imported_value(target, "large_lib") == "1.0"
