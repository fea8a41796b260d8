"""Index a channel's conda view with rattler: repodata.json, .zst and CEP-16 shards.

A run is crash-safe: a marker file (`ChannelLayout.indexing_marker`) says an index is under way, rattler replaces each index
file atomically, and a channel found with the marker (a killed run) is re-indexed in full
while the last complete files keep being served.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import Iterable
from pathlib import Path

import zstandard
from rattler import Subdir, Version
from rattler.index import index_fs

from drawbridge.channel.layout import ChannelLayout
from drawbridge.channel.platforms import DEFAULT_SUBDIRS
from drawbridge.channel.storage import write_bytes_atomic, write_text_atomic

#: files at the top of a subdir that change on every index run
INDEX_FILES = ("repodata.json", "repodata.json.zst", "repodata_shards.msgpack.zst")
#: subdirs every channel serves from birth (empty until something is published for them)
CHANNEL_SUBDIRS = ("noarch", *DEFAULT_SUBDIRS)


def subdirs_in_use(layout: ChannelLayout) -> list[str]:
    """Every subdir folder of the conda view, noarch always among them."""
    root = layout.conda_dir
    (root / "noarch").mkdir(parents=True, exist_ok=True)
    return sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def needs_recovery(layout: ChannelLayout) -> bool:
    """True when an index run was interrupted (its marker is still there)."""
    return layout.indexing_marker.exists()


def index_conda(layout: ChannelLayout, subdirs: Iterable[str] | None = None, force: bool = False) -> None:
    """Bring the repodata of `subdirs` (default: all in use) up to date with the files on disk.

    rattler reuses the existing repodata and reads only packages it has not seen, so one new
    package costs one package read. Call with the channel lock held.
    """
    root = layout.conda_dir
    wanted = sorted(set(subdirs) | {"noarch"}) if subdirs is not None else subdirs_in_use(layout)
    for subdir in wanted:
        (root / subdir).mkdir(parents=True, exist_ok=True)
    marker = layout.indexing_marker
    recovering = marker.exists()
    write_text_atomic(marker, json.dumps(wanted))
    if recovering:
        force, wanted = True, subdirs_in_use(layout)
    for subdir in wanted:
        # rattler's own .zst uses a slow, high level: on 4,000 packages it was 550 of the
        # 1,000 ms an incremental run took. The same file at level 3 costs ~10 ms.
        asyncio.run(index_fs(root, target_platform=Subdir(subdir), force=force, write_zst=False))
        write_compressed_twins(root / subdir / "repodata.json")
    marker.unlink()


def write_compressed_twins(repodata: Path) -> None:
    """Write repodata.json.zst (CEP clients) and repodata.json.gz (gzip HTTP clients)."""
    data = repodata.read_bytes()
    write_bytes_atomic(repodata.with_name("repodata.json.zst"), zstandard.ZstdCompressor(level=3).compress(data))
    write_bytes_atomic(repodata.with_name("repodata.json.gz"), gzip.compress(data, 6, mtime=0))


def write_channeldata(layout: ChannelLayout, packages: Iterable[tuple[str, str, str]]) -> None:
    """Write channeldata.json from (name, version, subdir) triples."""
    by_name: dict[str, dict] = {}
    subdirs: set[str] = set()
    for name, version, subdir in packages:
        entry = by_name.setdefault(name, {"subdirs": set(), "version": version})
        entry["subdirs"].add(subdir)
        entry["version"] = max(entry["version"], version, key=_version_order)
        subdirs.add(subdir)
    document = {
        "channeldata_version": 1,
        "packages": {
            name: {"subdirs": sorted(entry["subdirs"]), "version": entry["version"]}
            for name, entry in sorted(by_name.items())
        },
        "subdirs": sorted(subdirs | {"noarch"}),
    }
    write_text_atomic(layout.conda_dir / "channeldata.json", json.dumps(document, indent=1))


def _version_order(version: str) -> Version:
    try:
        return Version(version)
    except Exception:
        return Version("0")
