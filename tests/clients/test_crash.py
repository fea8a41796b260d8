"""Crash safety of indexing: a killed index run never leaves a channel serving half an index."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import httpx
from builders import make_conda_tar_bz2
from servers import Server, start_server
from served_state import conda_index_file

from drawbridge.channel import conda_index, repodata_files
from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.tokens import Role

#: recovery, migrations and init are about the database: run on PostgreSQL too
pytestmark = pytest.mark.database


def test_incremental_index_reads_only_new_packages(tmp_path: Path):
    channel = ChannelLayout("ch", tmp_path / "ch")
    subdir = channel.conda_dir / "linux-64"
    old = [make_conda_tar_bz2(subdir, f"old{i}", "1.0", "0", "linux-64") for i in range(50)]
    conda_index.index_conda(channel, ["linux-64"])
    before = conda_index_file(subdir)["packages"]
    for path in old:  # were any old package read again, indexing would fail on it
        path.write_bytes(b"")
    make_conda_tar_bz2(subdir, "new", "1.0", "0", "linux-64")
    conda_index.index_conda(channel, ["linux-64"])
    after = conda_index_file(subdir)["packages"]
    assert set(after) == set(before) | {"new-1.0-0.tar.bz2"}
    assert all(after[name]["sha256"] == before[name]["sha256"] for name in before)


def _upload_into_a_dying_server(server: Server, path: Path, token: str) -> None:
    try:
        server.upload(path, token)
    except httpx.RemoteProtocolError:
        pass  # expected: the server is killed before it answers


def _kill_while_indexing(server: Server, tmp_path: Path) -> None:
    """Upload a package that makes the server index 2,500 new ones; SIGKILL it mid-run."""
    token = server.token(Role.uploader)
    first = make_conda_tar_bz2(tmp_path / "p", "first", "1.0", "0", "linux-64")
    server.upload(first, token)
    served_before = httpx.get(f"{server.url}/main/conda/linux-64/repodata.json").json()
    assert list(served_before["packages"]) == ["first-1.0-0.tar.bz2"]

    # Many packages the index has not seen, in a subdir whose repodata no stamp ties to its
    # shards (as a home from before shards has): the next publish there indexes the subdir
    # in full, reading them all, long enough to kill the server in the middle of it (a
    # publish into a stamped subdir only touches its own shard, done in milliseconds).
    subdir = server.channels.conda_dir("main") / "linux-64"
    for i in range(2500):
        make_conda_tar_bz2(subdir, f"bulk{i}", "1.0", "0", "linux-64")
    (subdir / repodata_files.STAMP).unlink()
    marker = server.home.channel("main").indexing_marker
    uploader = threading.Thread(
        target=_upload_into_a_dying_server,
        args=(server, make_conda_tar_bz2(tmp_path / "p", "last", "1.0", "0", "linux-64"), token),
    )
    uploader.start()
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    assert marker.exists(), "the upload never started indexing"
    server.kill()
    uploader.join(60)


def test_server_killed_while_indexing_recovers(tmp_path: Path):
    server = start_server(tmp_path / "home")
    try:
        _kill_while_indexing(server, tmp_path)
    finally:
        server.stop()
    marker = server.home.channel("main").indexing_marker
    subdir = server.channels.conda_dir("main") / "linux-64"
    assert marker.exists()  # the run was interrupted

    # The index on disk is still whole: the last complete one.
    conda_index_file(subdir)

    restarted = start_server(tmp_path / "home")
    try:
        # served at once, before recovery finishes
        assert httpx.get(f"{restarted.url}/main/conda/linux-64/repodata.json").status_code == 200
        deadline = time.monotonic() + 120
        while marker.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not marker.exists(), "recovery did not finish"
        packages = httpx.get(f"{restarted.url}/main/conda/linux-64/repodata.json").json()[
            "packages"
        ]
        assert {"first-1.0-0.tar.bz2", "last-1.0-0.tar.bz2", "bulk2499-1.0-0.tar.bz2"} <= set(
            packages
        )
    finally:
        restarted.stop()
