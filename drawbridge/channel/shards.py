"""A subdir's CEP-16 sharded repodata, changed one package name at a time.

The shard index (`repodata_shards.msgpack.zst`: `{info, shards: {name: sha256}}`) names
one content-addressed shard per package name (`shards/<sha256>.msgpack.zst`: `{packages,
packages.conda, removed}`), both zstd-compressed msgpack as rattler's `index_fs` writes
them. A change rewrites only the shards of the names it touches and then the index:
shards first, index last (an atomic replace), so a reader never finds an index naming a
shard that is not there. A shard the index no longer names stays for `SHARD_GRACE`
seconds (a reader may hold the old index) and is then swept (`sweep`).

The decoded index is kept in memory (`_IndexCache`), checked against the file's `stat`
on every use, so a publish into a subdir of 100,000 names does not decode 4 MB each time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgpack
import zstandard

from drawbridge.channel.faults import crash_point
from drawbridge.channel.storage import is_temporary, write_bytes_atomic

SHARD_INDEX = "repodata_shards.msgpack.zst"
SHARDS_DIR = "shards"
SHARD_SUFFIX = ".msgpack.zst"
#: the keys of a shard (and a repodata document) that hold packages by file name
PACKAGE_KEYS = ("packages", "packages.conda")
#: seconds a shard no index names is kept for a reader holding an older index
SHARD_GRACE = 600.0
#: zstd level of a shard
ZSTD_LEVEL = 3
#: zstd level of the shard index: its sha256s do not compress at any level (3.5 MB at
#: level 3, 3.7 MB at -5 for 100,000 names), and level 3 took 40 ms a publish, -5 4 ms
INDEX_ZSTD_LEVEL = -5
#: a record's fields that a shard holds as bytes and repodata.json as hex
BINARY_DIGESTS = ("md5", "sha256")
#: more new shards than this are synced together, not one by one
BULK = 64
#: a record: one package's entry, as rattler writes it in a shard (md5, sha256 as bytes)
Record = dict[str, Any]


def decompress(data: bytes) -> bytes:
    """zstd frames as rattler writes them (no content size in the header)."""
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def compress(data: bytes, level: int = ZSTD_LEVEL) -> bytes:
    return zstandard.ZstdCompressor(level=level).compress(data)


def shard_path(folder: Path, digest: bytes) -> Path:
    """Where the shard of sha256 `digest` lives in the subdir `folder`."""
    return folder / SHARDS_DIR / f"{digest.hex()}{SHARD_SUFFIX}"


def read_shard(folder: Path, digest: bytes) -> dict[str, Any]:
    """The shard of sha256 `digest` in the subdir `folder`, decoded."""
    document: dict[str, Any] = msgpack.unpackb(decompress(shard_path(folder, digest).read_bytes()))
    return document


class _IndexCache:
    """Decoded shard indexes by path, each valid while its file's (inode, size, mtime_ns)
    is unchanged; a change elsewhere (another process) is seen at the next `stat`."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[tuple[int, int, int], dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def read(self, path: Path, copy: bool = True) -> dict[str, Any] | None:
        """The decoded index at `path`, or None; without `copy` the cached document itself,
        for a writer that will `remember` the document it writes (or `forget` the path)."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._entries.get(str(path))
        if cached is None or cached[0] != signature:
            document: dict[str, Any] = msgpack.unpackb(decompress(path.read_bytes()))
            with self._lock:
                self._entries[str(path)] = (signature, document)
        else:
            document = cached[1]
        return {**document, "shards": dict(document["shards"])} if copy else document

    def forget(self, path: Path) -> None:
        with self._lock:
            self._entries.pop(str(path), None)

    def remember(self, path: Path, document: dict[str, Any]) -> None:
        stat = path.stat()
        with self._lock:
            self._entries[str(path)] = ((stat.st_ino, stat.st_size, stat.st_mtime_ns), document)


_INDEXES = _IndexCache()


def read_index(folder: Path, copy: bool = True) -> dict[str, Any] | None:
    """The shard index of the subdir `folder` (`{info, shards}`), or None if it has none;
    without `copy`, the cached document itself (read it, never change it)."""
    return _INDEXES.read(folder / SHARD_INDEX, copy)


def read_index_once(folder: Path) -> dict[str, Any] | None:
    """The shard index of a folder read once (a trial's: kept in no cache)."""
    try:
        data = (folder / SHARD_INDEX).read_bytes()
    except FileNotFoundError:
        return None
    document: dict[str, Any] = msgpack.unpackb(decompress(data))
    return document


def _empty_shard() -> dict[str, Any]:
    return {"packages": {}, "packages.conda": {}, "removed": []}


def package_key(filename: str) -> str:
    """The key of a shard (or repodata) holding `filename`."""
    return "packages.conda" if filename.endswith(".conda") else "packages"


def update(folder: Path, subdir: str, changes: Mapping[str, Mapping[str, Record | None]]) -> int:
    """Apply `changes` ({name: {filename: record, or None to remove it}}) to the subdir
    `folder`'s shards, then replace its index; return how many shards were written.

    The subdir must have a shard index already (`read_index`); the caller holds the
    channel lock. A name left with no package leaves the index."""
    path = folder / SHARD_INDEX
    index = _INDEXES.read(path, copy=False)  # changed in place: 100,000 names copy slowly
    if index is None:
        raise FileNotFoundError(path)
    try:
        names: dict[str, bytes] = index["shards"]
        pending: list[tuple[Path, bytes]] = []
        for name, files in sorted(changes.items()):
            shard = read_shard(folder, names[name]) if name in names else _empty_shard()
            for filename, record in files.items():
                key = package_key(filename)
                if record is None:
                    shard[key].pop(filename, None)
                else:
                    shard[key][filename] = record
            if not shard["packages"] and not shard["packages.conda"]:
                names.pop(name, None)
                continue
            names[name] = _encoded(folder, shard, pending)
        _write_shards(pending)
        _write_index(folder, subdir, names, index.get("info", {}), ordered=False)
    except BaseException:
        _INDEXES.forget(path)  # the cached document may be half changed: read it again
        raise
    return len(pending)


def write_all(folder: Path, subdir: str, repodata: Mapping[str, Any]) -> int:
    """Write the shards and the shard index of the subdir `folder` from its repodata
    document (what rattler's indexer wrote, with `write_shards` off: its own shard writer
    opens every shard at once, and ran out of file descriptors at 100,000 names); return
    how many shards were new. Shards first, the index last."""
    by_name: dict[str, dict[str, Any]] = {}
    for key in PACKAGE_KEYS:
        for filename, record in sorted((repodata.get(key) or {}).items()):
            shard = by_name.setdefault(record["name"], _empty_shard())
            shard[key][filename] = _binary(record)
    pending: list[tuple[Path, bytes]] = []
    names = {name: _encoded(folder, shard, pending) for name, shard in sorted(by_name.items())}
    _write_shards(pending)
    _write_index(folder, subdir, names, (read_index(folder) or {}).get("info", {}))
    return len(pending)


def _binary(record: Mapping[str, Any]) -> Record:
    """A repodata.json record as a shard holds it: its digests as bytes (CEP-16)."""
    found = dict(record)
    for key in BINARY_DIGESTS:
        if isinstance(found.get(key), str):
            found[key] = bytes.fromhex(found[key])
    return found


def _encoded(folder: Path, shard: dict[str, Any], pending: list[tuple[Path, bytes]]) -> bytes:
    """The sha256 of `shard` encoded; its file added to `pending` if it is not there yet."""
    for key in PACKAGE_KEYS:  # one encoding of one content, whatever it was read from
        shard[key] = {f: dict(sorted(r.items())) for f, r in sorted(shard[key].items())}
    body = compress(msgpack.packb(shard))
    digest = hashlib.sha256(body).digest()
    target = shard_path(folder, digest)
    if not target.exists():
        pending.append((target, body))
    return digest


def _write_shards(pending: list[tuple[Path, bytes]]) -> None:
    """Write new shard files, one open file at a time. A few are synced one by one; many
    are renamed into place unsynced and then synced at once (`os.sync`), before any index
    names them: 100,000 fsyncs would take minutes."""
    durable_each = len(pending) <= BULK
    for target, body in pending:
        if durable_each:
            write_bytes_atomic(target, body)
        else:
            _write_unsynced(target, body)
        crash_point("sharding")
    if not durable_each:
        os.sync()


def _write_unsynced(target: Path, body: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(body)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_index(
    folder: Path, subdir: str, names: dict[str, bytes], info: dict[str, Any], ordered: bool = True
) -> None:
    """Replace the shard index; `ordered` sorts the names (a change keeps the order it
    found, new names last: sorting 100,000 names on each publish cost 30 ms)."""
    index = {
        "info": {
            "subdir": subdir,
            "base_url": "",
            "shards_base_url": f"./{SHARDS_DIR}/",
            **{k: v for k, v in info.items() if k not in ("subdir", "created_at")},
            "created_at": _now(),
        },
        "shards": dict(sorted(names.items())) if ordered else names,
    }
    write_bytes_atomic(folder / SHARD_INDEX, compress(msgpack.packb(index), INDEX_ZSTD_LEVEL))
    _INDEXES.remember(folder / SHARD_INDEX, index)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def records(folder: Path, index: dict[str, Any]) -> Iterable[tuple[str, str, Record]]:
    """Every (package key, filename, record) the shards of `index` hold, name by name."""
    for digest in index["shards"].values():
        shard = read_shard(folder, digest)
        for key in PACKAGE_KEYS:
            for filename, record in (shard.get(key) or {}).items():
                yield key, filename, record


def sweep(folder: Path, grace: float = SHARD_GRACE) -> int:
    """Remove the shards of the subdir `folder` its index does not name and that are older
    than `grace` seconds (0: every one, after a crash or a rollback); return how many."""
    index = read_index(folder)
    shards = folder / SHARDS_DIR
    if index is None or not shards.is_dir():
        return 0
    named = {f"{digest.hex()}{SHARD_SUFFIX}" for digest in index["shards"].values()}
    cutoff = time.time() - grace
    removed = 0
    with os.scandir(shards) as entries:
        for entry in entries:
            if entry.name in named or is_temporary(entry.name) and grace > 0:
                continue
            try:
                if grace <= 0 or entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
    return removed
