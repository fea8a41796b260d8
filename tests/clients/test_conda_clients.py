"""py-rattler (the engine of pixi) solves and installs from a running Drawbridge."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import rattler
import zstandard
from builders import make_conda_tar_bz2, make_noarch_python_conda
from clients import client_env, solve_and_install
from databases import new_home, write_config
from servers import Server, start_server

from drawbridge.channel.tokens import Role

#: conda's own reading of a token in a channel URL (conda/common/url.py, split_anaconda_token)
CONDA_TOKEN_IN_URL = re.compile(r"/t/([a-zA-Z0-9-]*)")


def mamba_accepts_token(token: str) -> bool:
    """libmamba's rule (specs/conda_url.cpp, is_token): `_` only in the first two characters."""
    head, rest = token[:2], token[2:]
    return (
        len(token) >= 2
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in head)
        and all(c.isascii() and (c.isalnum() or c == "-") for c in rest)
    )


def test_rattler_installs_a_noarch_python_package(
    server: Server, upstream_channel: Path, tmp_path: Path
):
    server.publish(make_noarch_python_conda(tmp_path / "pkgs", "demo-conda", "1.0", "demo_conda"))
    server.publish(make_noarch_python_conda(tmp_path / "pkgs", "demo-conda", "1.1", "demo_conda"))
    prefix = tmp_path / "env"
    installed = solve_and_install(
        server, upstream_channel, prefix, ["python 3.11.*", "demo-conda"], tmp_path / "cache"
    )
    assert "demo-conda=1.1" in installed and any(p.startswith("python=3.11") for p in installed)
    result = subprocess.run(
        [
            str(prefix / "bin" / "python"),
            "-c",
            "import demo_conda, sys; print(demo_conda.VALUE, sys.prefix)",
        ],
        capture_output=True,
        text=True,
        env=client_env(),
        check=True,
    )
    value, where = result.stdout.split()
    assert value == "1.1" and Path(where) == prefix


def test_rattler_pins_an_older_version(server: Server, upstream_channel: Path, tmp_path: Path):
    server.publish(make_noarch_python_conda(tmp_path / "pkgs", "demo-conda", "1.0", "demo_conda"))
    server.publish(make_noarch_python_conda(tmp_path / "pkgs", "demo-conda", "2.0", "demo_conda"))
    prefix = tmp_path / "env"
    installed = solve_and_install(
        server, upstream_channel, prefix, ["python 3.11.*", "demo-conda <2"], tmp_path / "cache"
    )
    assert "demo-conda=1.0" in installed


def test_unknown_package_fails_to_solve(server: Server, upstream_channel: Path, tmp_path: Path):
    with pytest.raises(Exception, match="no-such-package"):
        solve_and_install(
            server, upstream_channel, tmp_path / "env", ["no-such-package"], tmp_path / "cache"
        )


def test_conda_token_url_with_a_real_token(tmp_path: Path):
    """A token from `drawbridge token create` survives conda's and mamba's token parsing,
    and py-rattler solves and installs through `/t/<token>/` from a private channel."""
    write_config(new_home(tmp_path / "private"), "[server]\nanonymous_read = false\n")
    server = start_server(tmp_path / "private")
    try:
        server.publish(make_conda_tar_bz2(tmp_path / "pkgs", "private-tool", "1.0"))
        token = server.token(Role.reader)
        url = f"{server.url}/t/{token}/main/conda"
        assert CONDA_TOKEN_IN_URL.search(url).group(1) == token
        assert mamba_accepts_token(token)

        def solve(channel_url: str) -> list:
            channel = rattler.Channel(channel_url)
            return asyncio.run(
                rattler.solve([channel], ["private-tool"], platforms=["linux-64", "noarch"])
            )

        with pytest.raises(Exception):
            solve(f"{server.url}/main/conda")  # no token: the channel does not answer
        records = solve(url)
        assert [f"{r.name.normalized}={r.version}" for r in records] == ["private-tool=1.0"]
        prefix = tmp_path / "env"
        asyncio.run(
            rattler.install(records, prefix, cache_dir=tmp_path / "cache", show_progress=False)
        )
        assert (prefix / "share" / "private-tool" / "README").read_text() == "private-tool 1.0\n"
    finally:
        server.stop()


def test_rattler_solves_through_the_shards_after_publishes_one_by_one(
    server: Server, tmp_path: Path
):
    """Issue 22: packages published one at a time (each changes its name's shard and the
    shard index only, from another process than the server) are what py-rattler's
    gateway finds through the sharded index, the newest version winning, and the shards
    named by the index are what it fetched."""
    for version in ("1.0", "1.1", "1.2"):
        server.channels.publish(
            "main", make_conda_tar_bz2(tmp_path / version, "sharded-tool", version, "0", "linux-64")
        )
    server.channels.publish(
        "main", make_conda_tar_bz2(tmp_path / "o", "other-tool", "3.0", "0", "linux-64")
    )
    gateway = rattler.Gateway(cache_dir=tmp_path / "cache")
    records = asyncio.run(
        rattler.solve(
            [rattler.Channel(f"{server.url}/main/conda")],
            ["sharded-tool", "other-tool"],
            platforms=["linux-64", "noarch"],
            gateway=gateway,
        )
    )
    assert sorted(f"{r.name.normalized}={r.version}" for r in records) == [
        "other-tool=3.0",
        "sharded-tool=1.2",
    ]
    log_path = next(server.home.root.parent.glob("server-*.log"))
    for _ in range(50):  # the workers' access lines reach the file a moment after answering
        log = log_path.read_text()
        if "/main/conda/linux-64/shards/" in log:
            break
        time.sleep(0.1)
    assert "/main/conda/linux-64/repodata_shards.msgpack.zst" in log
    assert "/main/conda/linux-64/shards/" in log
    assert "/main/conda/linux-64/repodata.json" not in log
    # a client of the whole file gets it made from the shards, the last publish in it
    for name in ("repodata.json", "repodata.json.zst"):
        answer = httpx.get(f"{server.url}/main/conda/linux-64/{name}")
        body = answer.content
        if name.endswith(".zst"):
            body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
        repodata = json.loads(body)
        assert "sharded-tool-1.2-0.tar.bz2" in repodata["packages"], name
