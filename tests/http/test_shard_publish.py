"""Publishing a conda package rewrites its name's shard and the shard index only
(`channel/shards.py`); repodata.json and channeldata.json are made from the shards when
read (`channel/repodata_files.py`). What rattler's own indexer writes for the same files
is the reference, and a reader racing the publishes never sees a broken state."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import zstandard
from builders import make_conda_tar_bz2, make_noarch_python_conda
from rattler import Subdir
from rattler.index import index_fs
from served_state import conda_index_file

from drawbridge.channel import repodata_files, shards
from drawbridge.channel.service import Channels


def _decoded(path: Path) -> Any:
    return msgpack.unpackb(
        zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    )


def _without_times(document: dict[str, Any]) -> dict[str, Any]:
    """A shard or repodata document without rattler's per-run `indexed_timestamp`."""
    return {
        key: {f: {k: v for k, v in r.items() if k != "indexed_timestamp"} for f, r in value.items()}
        if key in shards.PACKAGE_KEYS
        else value
        for key, value in document.items()
    }


def _shards_by_name(folder: Path) -> dict[str, dict[str, Any]]:
    index = _decoded(folder / shards.SHARD_INDEX)
    return {
        name: _without_times(_decoded(folder / "shards" / f"{digest.hex()}.msgpack.zst"))
        for name, digest in index["shards"].items()
    }


def test_shards_and_repodata_are_what_rattlers_indexer_writes(channels: Channels, tmp_path: Path):
    """Packages published one by one (several versions of a name, both formats, noarch)
    leave shards, a shard index and (once read) repodata.json equal, as decoded documents,
    to what rattler's `index_fs` writes for the same files in a fresh folder."""
    files = [
        make_conda_tar_bz2(tmp_path / "a", "tool", "1.0", "0", "linux-64"),
        make_conda_tar_bz2(tmp_path / "b", "tool", "1.1", "0", "linux-64", depends=["lib >=2"]),
        make_conda_tar_bz2(tmp_path / "c", "lib", "2.0", "1", "linux-64"),
        make_noarch_python_conda(tmp_path / "d", "pure-thing", "0.3", "pure_thing"),
    ]
    for path in files:
        channels.publish("main", path)
    reference = tmp_path / "reference"
    for subdir in ("linux-64", "noarch"):
        (reference / subdir).mkdir(parents=True)
        for path in (channels.conda_dir("main") / subdir).iterdir():
            if path.name.endswith((".conda", ".tar.bz2")):
                shutil.copy(path, reference / subdir / path.name)
    for subdir in ("linux-64", "noarch"):
        asyncio.run(index_fs(reference, target_platform=Subdir(subdir), write_zst=False))
    for subdir in ("linux-64", "noarch"):
        ours, theirs = channels.conda_dir("main") / subdir, reference / subdir
        assert _shards_by_name(ours) == _shards_by_name(theirs)
        assert _shards_by_name(ours), subdir
        info = _decoded(ours / shards.SHARD_INDEX)["info"]
        reference_info = _decoded(theirs / shards.SHARD_INDEX)["info"]
        assert info.keys() == reference_info.keys()
        assert {k: v for k, v in info.items() if k != "created_at"} == {
            k: v for k, v in reference_info.items() if k != "created_at"
        }
        assert not repodata_files.is_current(ours)  # the publish left repodata.json alone
        made = conda_index_file(ours)
        assert _without_times(made) == _without_times(
            json.loads((theirs / "repodata.json").read_bytes())
        )
    channeldata = conda_index_file(channels.conda_dir("main"), "channeldata.json")
    assert channeldata["packages"]["tool"] == {"subdirs": ["linux-64"], "version": "1.1"}
    assert channeldata["subdirs"] == ["linux-64", "noarch"]
    # a full re-index (rattler writes repodata.json, Drawbridge the shards: rattler's own
    # shard writer opens them all at once) leaves the same shards
    channels.reindex("main", force=True)
    for subdir in ("linux-64", "noarch"):
        ours, theirs = channels.conda_dir("main") / subdir, reference / subdir
        assert _shards_by_name(ours) == _shards_by_name(theirs)
        assert repodata_files.is_current(ours)


def test_a_reader_racing_publishes_never_sees_a_broken_index(channels: Channels, tmp_path: Path):
    """A reader reads the shard index and every shard it names, and repodata.json (made
    from the shards as a server makes it), over and over while packages are published:
    every index names only shards that are there, every file parses, and what one read
    shows a later one never loses."""
    folder = channels.conda_dir("main") / "linux-64"
    packages = [
        make_conda_tar_bz2(tmp_path / str(i), f"p{i % 7}", f"1.{i}", "0", "linux-64")
        for i in range(40)
    ]
    done = threading.Event()
    problems: list[str] = []
    reads = {"index": 0, "repodata": 0}

    def read() -> None:
        seen: set[str] = set()
        while not done.is_set() or reads["index"] < 2:
            try:
                index = _decoded(folder / shards.SHARD_INDEX)
                files: set[str] = set()
                for name, digest in index["shards"].items():
                    shard = _decoded(folder / "shards" / f"{digest.hex()}.msgpack.zst")
                    files |= set(shard["packages"]) | set(shard["packages.conda"])
                    assert all(r["name"] == name for r in shard["packages"].values())
                reads["index"] += 1
                repodata = conda_index_file(folder)
                reads["repodata"] += 1
                shown = set(repodata["packages"]) | files
                assert seen <= shown, seen - shown
                seen = shown
            except Exception as error:  # the test's verdict, with what broke
                problems.append(repr(error))
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for path in packages:
            channels.publish("main", path)
    finally:
        done.set()
        reader.join()
    assert problems == []
    assert reads["index"] >= 2 and reads["repodata"] >= 2
    assert set(conda_index_file(folder)["packages"]) == {p.name for p in packages}


def test_a_start_removes_the_old_shards_of_names_published_again(
    channels: Channels, tmp_path: Path
):
    """Each publish of a name replaces its shard (one holding all its packages). A server's
    start removes those no index names whose grace is over, whatever process replaced them,
    and keeps the ones replaced within it (a reader may hold the index that named them)."""
    for version in ("1.0", "1.1", "1.2"):
        channels.publish(
            "main", make_noarch_python_conda(tmp_path / version, "demo", version, "demo")
        )
    folder = channels.layout("main").conda_dir / "noarch"
    on_disk = {p.name for p in (folder / shards.SHARDS_DIR).iterdir()}
    assert len(on_disk) == 3, "replaced within their grace: kept"
    assert channels.recover() == []  # nothing a crash left: housekeeping is not reported
    assert len(list((folder / shards.SHARDS_DIR).iterdir())) == 3
    long_ago = time.time() - 2 * shards.SHARD_GRACE
    for shard in (folder / shards.SHARDS_DIR).iterdir():
        os.utime(shard, (long_ago, long_ago))
    channels.recover()
    [(name, digest)] = shards.read_index(folder)["shards"].items()  # type: ignore[index]
    assert name == "demo"
    assert [p.name for p in (folder / shards.SHARDS_DIR).iterdir()] == [
        f"{digest.hex()}{shards.SHARD_SUFFIX}"
    ]
    assert len(shards.read_shard(folder, digest)["packages.conda"]) == 3
