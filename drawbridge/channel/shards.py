"""A subdir's CEP-16 sharded repodata, changed one package name at a time.

The shard index (`repodata_shards.msgpack.zst`: `{info, shards: {name: sha256}}`) names
one content-addressed shard per package name (`shards/<sha256>.msgpack.zst`: `{packages,
packages.conda, removed}`), both zstd-compressed msgpack as rattler's `index_fs` writes
them. A change rewrites only the shards of the names it touches and then the index:
shards first, index last (an atomic replace), so a reader never finds an index naming a
shard that is not there. A shard the index no longer names stays for `SHARD_GRACE`
seconds (a reader may hold the old index) and is then removed: by the first update of
the subdir after that in the process that replaced it (`_Retired`), or by `sweep` (a full
index, and each server's start for what a process that ended had retired). Without
that, each publish of a name left its old shard behind, every one holding all of the
name's packages: disk use quadratic in a name's builds.

The decoded index is kept in memory (`_IndexCache`), checked against the file's `stat`
on every use, so a publish into a subdir of 100,000 names does not decode 4 MB each time;
beside it, once a publish wrote it, its names' msgpack bytes (`_EncodedNames`), patched
per change, so it does not encode them again either. A publish works its change out
before its file is placed and recorded (`work_ahead`): the new index (3.7 MB at 100,000
names) is compressed and written beside the old one on a thread meanwhile, and renamed
over it once the new shards are there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgpack
import zstandard

from drawbridge.channel.faults import crash_point
from drawbridge.channel.storage import (
    is_temporary,
    replace_releasing_old,
    write_bytes_atomic,
    write_synced_beside,
)

log = logging.getLogger("drawbridge")
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


class _Compressors:
    """zstd compressors kept for reuse, a few per level: making one for the 4 MB shard
    index of 100,000 names costs 1.3 of the 5.7 ms its compression takes. A compressor
    serves one thread at a time; a thread that finds none free makes one."""

    KEPT = 2

    def __init__(self) -> None:
        self._free: dict[int, list[zstandard.ZstdCompressor]] = {}
        self._lock = threading.Lock()

    def compress(self, data: bytes, level: int) -> bytes:
        with self._lock:
            free = self._free.setdefault(level, [])
            compressor = free.pop() if free else zstandard.ZstdCompressor(level=level)
        try:
            return compressor.compress(data)
        finally:
            with self._lock:
                if len(free) < self.KEPT:
                    free.append(compressor)

    def forget_after_fork(self) -> None:
        """In a forked child: the lock may have been held by a thread of the parent."""
        self._lock = threading.Lock()


_COMPRESSORS = _Compressors()


def compress(data: bytes, level: int = ZSTD_LEVEL) -> bytes:
    return _COMPRESSORS.compress(data, level)


def shard_path(folder: Path, digest: bytes) -> Path:
    """Where the shard of sha256 `digest` lives in the subdir `folder`."""
    return folder / SHARDS_DIR / f"{digest.hex()}{SHARD_SUFFIX}"


def read_shard(folder: Path, digest: bytes) -> dict[str, Any]:
    """The shard of sha256 `digest` in the subdir `folder`, decoded."""
    document: dict[str, Any] = msgpack.unpackb(decompress(shard_path(folder, digest).read_bytes()))
    return document


def _map_header(count: int) -> bytes:
    """The msgpack header of a map of `count` entries, as msgpack writes it."""
    if count < 16:
        return bytes([0x80 | count])
    if count < 1 << 16:
        return b"\xde" + count.to_bytes(2, "big")
    return b"\xdf" + count.to_bytes(4, "big")


def _pack(value: object) -> bytes:
    data: bytes = msgpack.packb(value)
    return data


def _entry(name: str, digest: bytes) -> bytes:
    """One entry of the index's `shards` map, encoded."""
    return _pack(name) + _pack(digest)


class _EncodedNames:
    """The msgpack of an index's `shards` map, kept beside the decoded map and changed as
    it is changed: a new name appended, a digest replaced where it is, a name cut out.
    `packb` of the index is then a few small pieces and these bytes, the same bytes
    msgpack writes for the same map in the same order, without encoding 100,000 names
    again (23 ms a publish); finding an entry is one `bytes.find` of its name and old
    digest (about 1 ms in 4 MB)."""

    def __init__(self, names: Mapping[str, bytes]) -> None:
        self.count = len(names)
        self.body = bytearray(_pack(names))
        del self.body[: len(_map_header(self.count))]

    def set(self, name: str, old: bytes | None, new: bytes) -> None:
        """`name` now has the shard `new` (it had `old`, or was not in the map)."""
        if old is None:
            self.body += _entry(name, new)
            self.count += 1
        elif old != new:
            end = self._find(name, old)
            self.body[end - len(new) : end] = new

    def remove(self, name: str, old: bytes) -> None:
        """`name`, whose shard was `old`, leaves the map."""
        end = self._find(name, old)
        del self.body[end - len(_entry(name, old)) : end]
        self.count -= 1

    def _find(self, name: str, digest: bytes) -> int:
        """Where the entry of `name` with `digest` ends in the body. Its 32 bytes of sha256
        occur once, so the match is the entry, never a run of bytes across two."""
        entry = _entry(name, digest)
        start = self.body.find(entry)
        if start < 0:
            raise LookupError(f"{name!r} is not in the encoded shard index")
        return start + len(entry)

    def copy(self) -> _EncodedNames:
        """Another of these, changed apart from this one."""
        twin = _EncodedNames({})
        twin.count, twin.body = self.count, bytearray(self.body)
        return twin

    def packb(self, info: Mapping[str, Any]) -> bytes:
        """`msgpack.packb({"info": info, "shards": <the map>})`."""
        head = b"\x82" + _pack("info") + _pack(info) + _pack("shards")
        return head + _map_header(self.count) + self.body


class _Cached:
    """One cached index: its file's signature, the decoded document, and (once a writer
    needed them) the encoded bytes of its names."""

    __slots__ = ("signature", "document", "encoded")

    def __init__(
        self,
        signature: tuple[int, int, int],
        document: dict[str, Any],
        encoded: _EncodedNames | None = None,
    ) -> None:
        self.signature = signature
        self.document = document
        self.encoded = encoded


class _IndexCache:
    """Decoded shard indexes by path, each valid while its file's (inode, size, mtime_ns)
    is unchanged; a change elsewhere (another process) is seen at the next `stat`."""

    def __init__(self) -> None:
        self._entries: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def entry(self, path: Path) -> _Cached | None:
        """The cache's entry of the index at `path`, read again if the file changed; None
        if there is no index. A writer changes its document (and `encoded`) in place and
        then `remember`s what it wrote, or `forget`s the path."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._entries.get(str(path))
        if cached is None or cached.signature != signature:
            document: dict[str, Any] = msgpack.unpackb(decompress(path.read_bytes()))
            cached = _Cached(signature, document)
            with self._lock:
                self._entries[str(path)] = cached
        return cached

    def read(self, path: Path, copy: bool = True) -> dict[str, Any] | None:
        """The decoded index at `path`, or None; without `copy` the cached document itself
        (read it, never change it)."""
        cached = self.entry(path)
        if cached is None:
            return None
        document = cached.document
        return {**document, "shards": dict(document["shards"])} if copy else document

    def forget(self, path: Path) -> None:
        with self._lock:
            self._entries.pop(str(path), None)

    def remember(self, path: Path, document: dict[str, Any], encoded: _EncodedNames | None) -> None:
        stat = path.stat()
        signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            self._entries[str(path)] = _Cached(signature, document, encoded)

    def forget_after_fork(self) -> None:
        """In a forked child: the lock may have been held by a thread of the parent."""
        self._lock = threading.Lock()


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


class _Change:
    """An index change worked out but not yet written: the new shards' files, each changed
    name's new shard (None: the name leaves), the encoded names after the change and the
    index's `info`."""

    __slots__ = ("pending", "digests", "encoded", "info")

    def __init__(
        self,
        pending: list[tuple[Path, bytes]],
        digests: dict[str, bytes | None],
        encoded: _EncodedNames,
        info: dict[str, Any],
    ) -> None:
        self.pending = pending
        self.digests = digests
        self.encoded = encoded
        self.info = info

    def packb(self) -> bytes:
        """The new index, encoded."""
        return self.encoded.packb(self.info)


def _work_out(
    folder: Path,
    subdir: str,
    changes: Mapping[str, Mapping[str, Record | None]],
    cached: _Cached,
    in_place: bool,
) -> _Change:
    """What applying `changes` to the index `cached` writes. The cached document is not
    changed; its encoded names are (`in_place`) or a copy of them is."""
    names: dict[str, bytes] = cached.document["shards"]
    if cached.encoded is None:
        encoded = _EncodedNames(names)
    else:
        encoded = cached.encoded if in_place else cached.encoded.copy()
    pending: list[tuple[Path, bytes]] = []
    digests: dict[str, bytes | None] = {}
    broken = False
    for name, files in sorted(changes.items()):
        old = names.get(name)
        shard = read_shard(folder, old) if old is not None else _empty_shard()
        for filename, record in files.items():
            key = package_key(filename)
            if record is None:
                shard[key].pop(filename, None)
            else:
                shard[key][filename] = record
        try:
            if not shard["packages"] and not shard["packages.conda"]:
                if old is not None:
                    digests[name] = None
                    encoded.remove(name, old)
                continue
            digests[name] = digest = _encoded(folder, shard, pending)
            encoded.set(name, old, digest)
        except LookupError:  # never seen: the bytes no longer match the map
            log.warning("the encoded shard index of %s was out of step: encoded again", folder)
            broken = True
    if broken:
        encoded = _EncodedNames(_changed(dict(names), digests))
    return _Change(pending, digests, encoded, _index_info(subdir, cached.document.get("info", {})))


def _changed(names: dict[str, bytes], digests: Mapping[str, bytes | None]) -> dict[str, bytes]:
    """`names` with `digests` applied (in place): a changed name keeps its place, a new
    one comes last, a name whose digest is None leaves."""
    for name, digest in digests.items():
        if digest is None:
            names.pop(name, None)
        else:
            names[name] = digest
    return names


def update(folder: Path, subdir: str, changes: Mapping[str, Mapping[str, Record | None]]) -> int:
    """Apply `changes` ({name: {filename: record, or None to remove it}}) to the subdir
    `folder`'s shards, then replace its index; return how many shards were written. A
    change `work_ahead` worked out for the same `changes` and the same index is taken as
    it is (its new index already written, or being written); otherwise the new index is
    compressed and written on a thread while the new shards are written here.

    The subdir must have a shard index already (`read_index`); the caller holds the
    channel lock, and calls `storage.wait_for_releases` before letting go of it. A name
    left with no package leaves the index."""
    path = folder / SHARD_INDEX
    cached = _INDEXES.entry(path)  # changed in place: 100,000 names copy slowly
    if cached is None:
        raise FileNotFoundError(path)
    try:
        ahead = _AHEAD.take(path, cached, changes)
        if ahead is not None:
            change, written = ahead.change, ahead.written
        else:
            change = _work_out(folder, subdir, changes, cached, in_place=True)
            written = _AHEAD.write(path, change)
        try:
            _write_shards(change.pending)  # while the new index is written
            new_index = written.result()
        except BaseException:
            written.add_done_callback(_remove_written)
            raise
        # the old index freed on a thread: the caller (the channel's writer) waits for it
        replace_releasing_old(new_index, path)
        names = cached.document["shards"]
        _RETIRED.add(
            folder,
            [(n, names[n]) for n, new in change.digests.items() if n in names and names[n] != new],
        )
        names = _changed(names, change.digests)
        _INDEXES.remember(path, {"info": change.info, "shards": names}, change.encoded)
    except BaseException:
        _INDEXES.forget(path)  # the cached document may be half changed: read it again
        raise
    # after the change: a shard it names again (content-addressed, not written again) stays
    _RETIRED.remove_due(folder, names)
    return len(change.pending)


class _Retired:
    """The shards each subdir's updates replaced in this process, with when: each is
    removed by the first update after `SHARD_GRACE` seconds, unless its name has it again
    (a package removed brings back the shard it had before: content-addressed)."""

    def __init__(self) -> None:
        self._by_folder: dict[str, list[tuple[float, str, bytes]]] = {}
        self._lock = threading.Lock()

    def add(self, folder: Path, replaced: Sequence[tuple[str, bytes]]) -> None:
        """Note the shards of `replaced` ((name, digest)) as no longer named from now, and
        touch each: its time is then when it was last named, so that `sweep` (a server's
        start, maybe another server's) keeps it for its grace too."""
        for _name, digest in replaced:
            try:
                os.utime(shard_path(folder, digest))
            except FileNotFoundError:
                continue
            except OSError as error:  # the publish is done: housekeeping never undoes it
                log.warning("shard %s of %s not touched: %s", digest.hex(), folder, error)
        now = time.monotonic()
        with self._lock:
            self._by_folder.setdefault(str(folder), []).extend(
                (now, name, digest) for name, digest in replaced
            )

    def remove_due(
        self, folder: Path, names: Mapping[str, bytes], grace: float | None = None
    ) -> int:
        """Remove the shards retired from `folder` over `grace` (SHARD_GRACE) seconds ago
        that `names` (its index, read under the channel lock) does not name again; return
        how many were removed."""
        cutoff = time.monotonic() - (SHARD_GRACE if grace is None else grace)
        with self._lock:
            retired = self._by_folder.get(str(folder), [])
            due = [entry for entry in retired if entry[0] <= cutoff]
            if not due:
                return 0
            self._by_folder[str(folder)] = retired[len(due) :]  # oldest first
        removed = 0
        for _when, name, digest in due:
            if names.get(name) != digest:
                try:
                    shard_path(folder, digest).unlink()
                    removed += 1
                except FileNotFoundError:  # a sweep took it first
                    continue
                except OSError as error:  # left to the next start's sweep
                    log.warning("old shard %s of %s not removed: %s", digest.hex(), folder, error)
        return removed

    def forget_after_fork(self) -> None:
        """In a forked child: what its parent retired is the parent's to remove."""
        self._by_folder, self._lock = {}, threading.Lock()


_RETIRED = _Retired()


class _Ahead:
    """A change `work_ahead` worked out for an index, its new index being compressed and
    written beside the old one on a thread."""

    __slots__ = ("cached", "signature", "changes", "change", "written")

    def __init__(
        self,
        cached: _Cached,
        changes: Mapping[str, Mapping[str, Record | None]],
        change: _Change,
        written: Future[Path],
    ) -> None:
        self.cached = cached
        self.signature = cached.signature
        self.changes = changes
        self.change = change
        self.written = written

    def discard(self) -> None:
        """Remove the new index's file once it is written (now, if it is)."""
        self.written.add_done_callback(_remove_written)


def _remove_written(written: Future[Path]) -> None:
    if written.exception() is None:
        written.result().unlink(missing_ok=True)


class _WorkedAhead:
    """The changes worked out ahead, at most one per index path."""

    def __init__(self) -> None:
        self._by_path: dict[str, _Ahead] = {}
        self._lock = threading.Lock()
        self._writer: ThreadPoolExecutor | None = None

    def start(
        self, path: Path, cached: _Cached, changes: Mapping[str, Any], change: _Change
    ) -> None:
        written = self.write(path, change)
        with self._lock:
            replaced = self._by_path.pop(str(path), None)
            self._by_path[str(path)] = _Ahead(cached, changes, change, written)
        if replaced is not None:
            replaced.discard()

    def write(self, path: Path, change: _Change) -> Future[Path]:
        """Compress and write `change`'s new index beside the index at `path`, on a
        thread (zstd and the writes let go of the GIL)."""
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(2, thread_name_prefix="shard-index")
            return self._writer.submit(_compressed_beside, path, change)

    def take(self, path: Path, cached: _Cached, changes: Mapping[str, Any]) -> _Ahead | None:
        """The change worked out ahead for `changes` to the index `cached` as it is now, if
        there is one; any other change worked out for `path` is discarded."""
        with self._lock:
            ahead = self._by_path.pop(str(path), None)
        if ahead is None:
            return None
        if ahead.cached is cached and ahead.signature == cached.signature:
            if ahead.changes == changes:
                return ahead
        ahead.discard()
        return None

    def drop(self, path: Path) -> None:
        with self._lock:
            ahead = self._by_path.pop(str(path), None)
        if ahead is not None:
            ahead.discard()

    def forget_after_fork(self) -> None:
        """In a forked child: its parent's threads are not there, so neither are the
        changes they were writing, and a new thread pool is made when one is needed (the
        parent's, which counts a thread as idle, would never run what it is given)."""
        self._by_path, self._lock, self._writer = {}, threading.Lock(), None


_AHEAD = _WorkedAhead()
if hasattr(os, "register_at_fork"):
    for _kept in (_COMPRESSORS, _INDEXES, _AHEAD, _RETIRED):
        os.register_at_fork(after_in_child=_kept.forget_after_fork)


def _compressed_beside(path: Path, change: _Change) -> Path:
    """`change`'s new index compressed and written, synced, beside the index at `path`."""
    return write_synced_beside(path, compress(change.packb(), INDEX_ZSTD_LEVEL))


def work_ahead(
    folder: Path, subdir: str, changes: Mapping[str, Mapping[str, Record | None]]
) -> None:
    """Work out now what `update(folder, subdir, changes)` will write, then compress and
    write the new index beside the old one on a thread, so that the update soon after
    writes the new shards and renames: a publish into a subdir of 100,000 names does the
    3.7 MB of its index (4 ms of zstd, 5 ms of writing) while its file is placed and
    recorded. Nothing the index names changes here; an update of other changes, or of an
    index changed meanwhile, works its change out again. Call with the channel lock held,
    and `drop_ahead` after the update."""
    path = folder / SHARD_INDEX
    cached = _INDEXES.entry(path)
    if cached is not None:
        change = _work_out(folder, subdir, changes, cached, in_place=False)
        _AHEAD.start(path, cached, changes, change)


def drop_ahead(folder: Path) -> None:
    """Forget a change `work_ahead` worked out for the subdir `folder` that no update
    took (its file removed)."""
    _AHEAD.drop(folder / SHARD_INDEX)


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


def _write_index(folder: Path, subdir: str, names: dict[str, bytes], info: dict[str, Any]) -> None:
    """Replace the shard index after a full run: the names sorted and encoded."""
    document = _index_document(subdir, dict(sorted(names.items())), info)
    path = folder / SHARD_INDEX
    write_bytes_atomic(path, compress(msgpack.packb(document), INDEX_ZSTD_LEVEL))
    _INDEXES.remember(path, document, None)


def _index_document(subdir: str, names: dict[str, bytes], info: dict[str, Any]) -> dict[str, Any]:
    """The shard index naming `names`, in their order (a change keeps the order they had,
    new names last: sorting 100,000 names on each publish cost 30 ms)."""
    return {"info": _index_info(subdir, info), "shards": names}


def _index_info(subdir: str, info: dict[str, Any]) -> dict[str, Any]:
    """The `info` of a shard index written now, kept from the last one's `info`."""
    return {
        "subdir": subdir,
        "base_url": "",
        "shards_base_url": f"./{SHARDS_DIR}/",
        **{k: v for k, v in info.items() if k not in ("subdir", "created_at")},
        "created_at": _now(),
    }


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
    index = read_index(folder, copy=False)  # only read: 100,000 names copy slowly
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
