"""Merge the views of a channel's levels (itself, then its bases): nearest file name wins.

Pure functions over the documents each level already has on disk: PEP 691 project and
root pages, conda repodata, CEP-16 shards and channeldata. The levels come nearest first;
for a file name (a wheel, a .conda) found at two levels, the first level's entry is kept,
so a channel can shadow what it inherits, as devpi's indexes do.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import zstandard
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    parse_sdist_filename,
    parse_wheel_filename,
)

from drawbridge.channel import simple_pages
from drawbridge.channel.versions import version_key

#: the keys of a repodata document (or shard) that hold packages by file name
PACKAGE_KEYS = ("packages", "packages.conda")
#: zstd level of merged repodata and shards, as `conda_index` writes a flat channel's
ZSTD_LEVEL = 3


def _version(filename: str) -> str:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[1])
        return str(parse_sdist_filename(filename)[1])
    except (InvalidWheelFilename, InvalidSdistFilename):
        return ""


def merge_project_pages(pages: Sequence[bytes]) -> tuple[str, str]:
    """The (HTML, JSON) pages of one project from its PEP 691 pages at each level that has
    it, nearest first."""
    documents = [json.loads(page) for page in pages]
    chosen: dict[str, dict[str, Any]] = {}
    versions: set[str] = set()
    for document in documents:
        for entry in document["files"]:
            chosen.setdefault(entry["filename"], entry)
        versions.update(document.get("versions", ()))
    entries = sorted(
        chosen.values(), key=lambda e: (version_key(_version(e["filename"])), e["filename"])
    )
    name = documents[0]["name"]
    return (
        simple_pages.page_html_from_entries(name, entries),
        simple_pages.page_json_from_entries(name, entries, versions),
    )


def merge_root_pages(pages: Sequence[bytes]) -> tuple[str, str]:
    """The (HTML, JSON) lists of projects from each level's PEP 691 root page."""
    names = {p["name"] for page in pages for p in json.loads(page)["projects"]}
    ordered = sorted(names)
    return simple_pages.root_page_html(ordered), simple_pages.root_page_json(ordered)


def merge_repodata(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One subdir's repodata from each level's, nearest first. A level's `base_url` is
    dropped: every file is served from the inheriting channel's own URL."""
    merged = {key: value for key, value in documents[0].items() if key not in PACKAGE_KEYS}
    info = dict(merged.get("info") or {})
    info.pop("base_url", None)
    merged["info"] = info
    removed: set[str] = set()
    for key in PACKAGE_KEYS:
        packages: dict[str, dict[str, Any]] = {}
        for document in documents:
            for filename, record in (document.get(key) or {}).items():
                packages.setdefault(filename, record)
        merged[key] = packages
    for document in documents:
        removed.update(document.get("removed") or ())
    if removed or "removed" in merged:
        merged["removed"] = sorted(removed)
    return merged


def merge_channeldata(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """channeldata.json from each level's, nearest first: a package's entry from the
    nearest level that has it, with the subdirs of every level."""
    packages: dict[str, dict[str, Any]] = {}
    subdirs: set[str] = set()
    for document in documents:
        subdirs.update(document.get("subdirs") or ())
        for name, entry in (document.get("packages") or {}).items():
            if name in packages:
                known = set(packages[name].get("subdirs", ())) | set(entry.get("subdirs", ()))
                packages[name] = {**packages[name], "subdirs": sorted(known)}
            else:
                packages[name] = dict(entry)
    return {
        "channeldata_version": 1,
        "packages": dict(sorted(packages.items())),
        "subdirs": sorted(subdirs | {"noarch"}),
    }


@dataclass(frozen=True)
class MergedShards:
    """A subdir's CEP-16 shard index for an inheriting channel, and the shards it names
    that no level has (names found at several levels), by file name."""

    index: bytes
    new_shards: dict[str, bytes]


def decompress(data: bytes) -> bytes:
    """zstd frames as rattler writes them (no content size in the header)."""
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)


def merge_shard_indexes(
    indexes: Sequence[bytes], read_shard: Callable[[int, str], bytes], subdir: str
) -> MergedShards:
    """A merged shard index from each level's `repodata_shards.msgpack.zst` (nearest first).

    A package name found at one level keeps that level's shard (the inheriting channel's
    shard URL finds it by walking the levels); a name found at several gets a new shard
    merging theirs, nearest file name winning. `read_shard(level, sha256_hex)` gives a
    level's shard bytes."""
    by_name: dict[str, list[tuple[int, bytes]]] = {}
    for position, data in enumerate(indexes):
        document = msgpack.unpackb(decompress(data))
        for name, digest in document["shards"].items():
            by_name.setdefault(name, []).append((position, digest))
    shards: dict[str, bytes] = {}
    new: dict[str, bytes] = {}
    for name, found in sorted(by_name.items()):
        if len(found) == 1:
            shards[name] = found[0][1]
            continue
        documents = [msgpack.unpackb(decompress(read_shard(pos, d.hex()))) for pos, d in found]
        merged: dict[str, Any] = {key: {} for key in PACKAGE_KEYS}
        removed: set[str] = set()
        for document in documents:
            for key in PACKAGE_KEYS:
                for filename, record in (document.get(key) or {}).items():
                    merged[key].setdefault(filename, record)
            removed.update(document.get("removed") or ())
        merged["removed"] = sorted(removed)
        body = compress(msgpack.packb(merged))
        digest = hashlib.sha256(body).digest()
        new[f"{digest.hex()}.msgpack.zst"] = body
        shards[name] = digest
    index = {
        "info": {"subdir": subdir, "base_url": "", "shards_base_url": "./shards/"},
        "shards": shards,
    }
    return MergedShards(compress(msgpack.packb(index)), new)
