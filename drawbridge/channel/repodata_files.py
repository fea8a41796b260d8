"""repodata.json (+ .zst, .gz) and channeldata.json, made from the shards when asked for.

A publish changes only shards and the shard index (`shards`); the monolithic files are
made from the shards by whoever reads them next (the server, before answering; a local
reader such as the installability check) when they are stale. A subdir's stamp
(`.repodata-source`) records the sha256 of the shard index its repodata was made from and
that file's `stat` signature, so "is it current?" costs a `stat` and a small read; a
stale one is rebuilt once (`ensure`: a per-subdir lock, re-checked under it), the files
replaced atomically, the stamp last. A reader thus sees the old files or the new, never
half of one, and after a publish returns the next read includes its package.

A rebuild reads only the shards of the names whose digest changed since the last build
(`SOURCE`); a process that made that last build keeps its records encoded (`_Built`) and
re-encodes only those names' records, so it neither decodes nor encodes the whole
document again.

channeldata.json is made the same way from a small summary per subdir
(`.channeldata-part.json`: each name's newest version), written with its repodata.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import msgpack
import zstandard
from rattler import Version

from drawbridge.channel import shards, stamps
from drawbridge.channel.locks import FileLocks

from drawbridge.channel.storage import write_bytes_atomic, write_files_atomic

log = logging.getLogger("drawbridge")
STAMP = ".repodata-source"
#: the index files of a subdir made here (the shard index is the publish's own)
MADE_FILES = frozenset({"repodata.json", "repodata.json.zst", "repodata.json.gz"})
PART = ".channeldata-part.json"
#: a copy of the shard index the repodata was last made from
SOURCE = ".repodata-source.msgpack.zst"
CHANNELDATA_STAMP = ".channeldata-source"
LOCK = ".repodata.lock"
#: builds tried before the last files are left served
ATTEMPTS = 3
#: changed names up to which a rebuild puts each piece in place (`bisect`); more are
#: appended and sorted once (a list insert moves half of 100,000 pointers)
FEW = 64


def _signature(path: Path) -> list[int] | None:
    """`stamps.signature` as the stamp's JSON keeps it (a list)."""
    found = stamps.signature(str(path))
    return list(found) if found is not None else None


def read_index_file(folder: Path) -> tuple[bytes, list[int]]:
    """The shard index's bytes and the `stat` signature of that very file (one open: an
    index replaced meanwhile cannot lend its signature to the old bytes)."""
    with (folder / shards.SHARD_INDEX).open("rb") as handle:
        stat = os.fstat(handle.fileno())
        return handle.read(), [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def index_digest(folder: Path) -> str | None:
    """The sha256 (hex) of the subdir's shard index as its repodata was last made from it,
    if that is still the index on disk; else of the index on disk; None with no index."""
    signature = _signature(folder / shards.SHARD_INDEX)
    if signature is None:
        return None
    stamp = _read_json(folder / STAMP)
    if isinstance(stamp, dict) and stamp.get("signature") == signature:
        return str(stamp["index"])
    try:
        return hashlib.sha256((folder / shards.SHARD_INDEX).read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def is_current(folder: Path) -> bool:
    """Whether the subdir's repodata.json was made from the shard index now on disk. A
    subdir without a shard index has nothing to make it from, and one without a stamp was
    never changed shard by shard (rattler wrote both, or it is not a channel of ours, such
    as a mirror's folder): both are current."""
    signature = _signature(folder / shards.SHARD_INDEX)
    if signature is None:
        return True
    stamp = _read_json(folder / STAMP)
    if stamp is None and not (folder / STAMP).exists():
        return True
    if not isinstance(stamp, dict) or not (folder / "repodata.json").exists():
        return False
    if stamp.get("signature") == signature:
        return True
    try:  # the same index under another inode (a copy, a restore): compare the bytes
        data = (folder / shards.SHARD_INDEX).read_bytes()
    except FileNotFoundError:
        return True
    return bool(stamp.get("index") == hashlib.sha256(data).hexdigest())


@contextmanager
def building(folder: Path) -> Iterator[None]:
    """Hold the subdir's repodata lock: no reader makes repodata from the shards while a
    full index run rewrites them (readers of current files never wait for it)."""
    with _subdir_lock(folder):
        yield


def _subdir_lock(folder: Path) -> AbstractContextManager[None]:
    """A lock file on this box even with PostgreSQL: it only spares a second build of the
    same files (atomic replaces and the stamp keep two builds correct)."""
    return FileLocks().hold(f"repodata {folder}", folder / LOCK)


def ensure(folder: Path) -> bool:
    """Make the subdir's repodata files from its shards if they are stale; True if they
    were. Safe from any process and thread, with or without the channel lock. A disk too
    full to write them leaves the last ones served (complete, if not the newest), said in
    the log, and the next read tries again."""

    def make() -> bool:
        if is_current(folder):
            return False
        with _subdir_lock(folder):
            if is_current(folder):  # another reader made them meanwhile
                return False
            build(folder)
        return True

    return bool(_despite_sweeps(make, f"make {folder}/repodata.json from its shards"))


def _despite_sweeps(write: Callable[[], bool], what: str) -> bool | None:
    """`write()`, tried again when a file of its went missing: recovery (a server start,
    `drawbridge index`) removes temporary files under the channel lock, which the lazy
    writers here do not hold, so one of theirs may go before its rename. None, said in
    the log as "could not `what`", if it failed (a full disk, say)."""
    failure: OSError | None = None
    for _attempt in range(ATTEMPTS):
        try:
            return write()
        except FileNotFoundError as error:
            failure = error
        except OSError as error:
            failure = error
            break
    log.warning("could not %s: %s", what, failure)
    return None


def _hex(record: dict[str, Any]) -> dict[str, Any]:
    """A shard's record as repodata.json has it: digests as hex strings."""
    return {k: v.hex() if isinstance(v, bytes) else v for k, v in record.items()}


#: one record of repodata.json as `json.dumps(document, ensure_ascii=False,
#: separators=(",", ":"))` writes it inside the whole document
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class _Built:
    """The last repodata a process built for a subdir, in pieces: each file's encoded
    entry (`"<filename>":{...}`) by package key, the filenames in order, each name's
    files, and each name's newest version. The next build, when the stamp still names
    the index this was made from, changes only the pieces of the names whose shard
    changed and joins them (about 50 ms for 100,000 records where decoding and encoding
    the whole document took 1.2 s); `document_bytes` are then what `json.dumps` writes
    for the whole document."""

    def __init__(self) -> None:
        self.entries: dict[str, dict[str, str]] = {key: {} for key in shards.PACKAGE_KEYS}
        self.order: dict[str, list[str]] = {key: [] for key in shards.PACKAGE_KEYS}
        self.files: dict[str, list[tuple[str, str]]] = {}
        self.newest: dict[str, str] = {}
        self.names: dict[str, bytes] = {}
        self.source = ""  # the sha256 of the index these were made from
        self.signature: list[int] | None = None  # of the repodata.json written from them

    def add(self, key: str, filename: str, record: dict[str, Any], ordered: bool) -> None:
        """Add one record; `ordered`: keep the filenames sorted (else `sort` once after)."""
        known = filename in self.entries[key]
        self.entries[key][filename] = f"{_encode(filename)}:{_encode(record)}"
        if known:  # two names claiming one file: the last one read wins, as in a dict
            return
        self.files.setdefault(str(record["name"]), []).append((key, filename))
        if ordered:
            bisect.insort(self.order[key], filename)
        else:
            self.order[key].append(filename)

    def sort(self) -> None:
        for key in shards.PACKAGE_KEYS:
            self.order[key].sort()

    def drop(self, name: str) -> None:
        """Remove every file of the package `name`."""
        for key, filename in self.files.pop(name, []):
            del self.entries[key][filename]
            order = self.order[key]
            del order[bisect.bisect_left(order, filename)]
        self.newest.pop(name, None)

    def document_bytes(self, subdir: str) -> bytes:
        """repodata.json: `json.dumps` of the document `build` used to encode whole."""
        sections = [
            f"{_encode(key)}:{{{','.join(map(self.entries[key].__getitem__, self.order[key]))}}}"
            for key in shards.PACKAGE_KEYS
        ]
        info = _encode({"subdir": subdir})
        return f'{{"info":{info},{",".join(sections)},"repodata_version":1,"v3":{{}}}}'.encode()


#: the last build of each subdir in this process, by folder (`_Built`)
_BUILDS: dict[str, _Built] = {}


def build(folder: Path) -> None:
    """Write the subdir's repodata.json, .zst, .gz and channeldata part from its shards,
    then its stamp. Call with the subdir's lock (`ensure`) or the channel lock held.

    Only the shards of names whose digest changed since the last build are read, when
    that build's index (`SOURCE`, checked against the stamp) and repodata.json are there;
    otherwise every shard is (24 s at 100,000 names on a loaded two-core box). When this
    process made that build (`_Built`), only those names' records are encoded again."""
    data, signature = read_index_file(folder)
    index: dict[str, Any] = msgpack.unpackb(shards.decompress(data))
    subdir = index.get("info", {}).get("subdir") or folder.name
    names: dict[str, bytes] = index["shards"]
    built = _BUILDS.pop(str(folder), None)  # back only once this build succeeded
    if built is None or not _is_last(folder, built):
        built = _from_files(folder)
    # until the stamp is written again, no build takes these files as its base: a crash
    # between two renames below must not make the next build start from a mixed pair
    write_bytes_atomic(folder / STAMP, json.dumps({"index": "", "signature": None}).encode())
    changed = {n for n, d in names.items() if built.names.get(n) != d}
    changed |= set(built.names) - set(names)
    for name in changed:
        built.drop(name)
    few = len(changed) <= FEW  # put in place one by one; else appended, then sorted
    for name in changed & set(names):
        shard = shards.read_shard(folder, names[name])
        versions = set()
        for key in shards.PACKAGE_KEYS:
            for filename, record in (shard.get(key) or {}).items():
                built.add(key, filename, _hex(record), ordered=few)
                versions.add(str(record.get("version", "")))
        if versions:
            built.newest[name] = newest_version(versions)
    if not few:
        built.sort()
    body = built.document_bytes(subdir)
    write_files_atomic(
        {
            folder / "repodata.json": body,
            folder / "repodata.json.zst": zstandard.ZstdCompressor(level=3).compress(body),
            folder / "repodata.json.gz": gzip.compress(body, 6, mtime=0),
            folder / PART: json.dumps(dict(sorted(built.newest.items()))).encode(),
        }
    )
    stamp(folder, data, signature)
    built.names, built.source = names, _sha256(data)
    built.signature = _signature(folder / "repodata.json")
    _BUILDS[str(folder)] = built


def _is_last(folder: Path, built: _Built) -> bool:
    """Whether `built` is what the subdir's stamp and repodata.json say was built last."""
    recorded = _read_json(folder / STAMP)
    return (
        isinstance(recorded, dict)
        and recorded.get("index") == built.source
        and _signature(folder / "repodata.json") == built.signature
    )


def _from_files(folder: Path) -> _Built:
    """The pieces of the subdir's last build from its files (`_previous`), or none (every
    name then counts as changed)."""
    built = _Built()
    previous = _previous(folder)
    if previous is None:
        return built
    built.names, document, built.newest = previous
    for key in shards.PACKAGE_KEYS:
        for filename, record in (document.get(key) or {}).items():
            built.add(key, filename, record, ordered=False)
    built.sort()
    return built


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _previous(folder: Path) -> tuple[dict[str, bytes], dict[str, Any], dict[str, str]] | None:
    """(the names of the index the last build used, its repodata document, its channeldata
    part) if all three are there and that index is the one the stamp names; else None."""
    recorded = _read_json(folder / STAMP)
    try:
        source = (folder / SOURCE).read_bytes()
    except FileNotFoundError:
        return None
    if not isinstance(recorded, dict) or recorded.get("index") != _sha256(source):
        return None
    document, part = _read_json(folder / "repodata.json"), _read_json(folder / PART)
    if not isinstance(document, dict) or not isinstance(part, dict):
        return None
    old: dict[str, Any] = msgpack.unpackb(shards.decompress(source))
    return old["shards"], document, part


def stamp(
    folder: Path, index_bytes: bytes | None = None, signature: list[int] | None = None
) -> None:
    """Record that the subdir's repodata files were made from its current shard index (or
    from `index_bytes`, whose file had `signature`): a copy of that index (`SOURCE`, for
    the next build to see which names changed), then the stamp naming it."""
    if index_bytes is None or signature is None:
        index_bytes, signature = read_index_file(folder)
    record = {"index": hashlib.sha256(index_bytes).hexdigest(), "signature": signature}
    write_bytes_atomic(folder / SOURCE, index_bytes)
    write_bytes_atomic(folder / STAMP, json.dumps(record).encode())


def write_part(folder: Path, repodata: dict[str, Any]) -> None:
    """The channeldata summary of a subdir whose repodata.json rattler just wrote."""
    versions: dict[str, set[str]] = {}
    for key in shards.PACKAGE_KEYS:
        for record in (repodata.get(key) or {}).values():
            versions.setdefault(record["name"], set()).add(str(record.get("version", "")))
    newest = {name: newest_version(found) for name, found in sorted(versions.items())}
    write_bytes_atomic(folder / PART, json.dumps(newest).encode())


def newest_version(versions: set[str]) -> str:
    """The highest of `versions` in conda's order (one parse only when there are several)."""
    if len(versions) == 1:
        return next(iter(versions))
    return max(versions, key=_version_order)


def _version_order(version: str) -> Version:
    try:
        return Version(version)
    except Exception:
        return Version("0")


def _subdirs(conda_dir: Path) -> list[Path]:
    return sorted(p for p in conda_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def ensure_channel(conda_dir: Path) -> bool:
    """Make every stale subdir's repodata, and channeldata.json if any subdir changed since
    it was made; True if anything was written."""
    if not conda_dir.is_dir():
        return False
    folders = [folder for folder in _subdirs(conda_dir) if (folder / STAMP).exists()]
    if not folders:  # not a channel made here (a mirror's folder), or from before stamps
        return False
    changed = any([ensure(folder) for folder in folders])
    state = {folder.name: index_digest(folder) for folder in folders}
    if not changed and _read_json(conda_dir / CHANNELDATA_STAMP) == state:
        return False

    def write() -> bool:
        with _subdir_lock(conda_dir):
            if _read_json(conda_dir / CHANNELDATA_STAMP) == state:
                return changed
            write_channeldata(conda_dir, folders)
            write_bytes_atomic(conda_dir / CHANNELDATA_STAMP, json.dumps(state).encode())
        return True

    written = _despite_sweeps(write, f"write {conda_dir}/channeldata.json")
    return changed if written is None else written


class _Merged:
    """channeldata.json as this process last wrote it for a channel, in pieces: the
    subdirs' parts it was made from and each name's encoded entry, names in order; the
    next write re-encodes only the names whose newest version or subdirs changed."""

    def __init__(self) -> None:
        self.parts: dict[str, dict[str, str]] = {}
        self.entries: dict[str, str] = {}
        self.order: list[str] = []
        self.signature: list[int] | None = None  # of the channeldata.json written


#: the last channeldata.json of each channel written by this process, by conda folder
_MERGED: dict[str, _Merged] = {}


def write_channeldata(conda_dir: Path, folders: list[Path]) -> None:
    """channeldata.json from each subdir's summary: a name's newest version, its subdirs
    (in the folders' sorted order: no sort, no version parse for a name in one subdir).
    The bytes are `json.dumps` of that document; what this process wrote last is kept
    (`_Merged`) and only the entries of the names whose parts changed are made again."""
    parts = {folder.name: _read_json(folder / PART) or {} for folder in sorted(folders)}
    merged = _MERGED.pop(str(conda_dir), None)  # back only once this write succeeded
    if merged is None or merged.signature != _signature(conda_dir / "channeldata.json"):
        merged = _Merged()
    changed: set[str] = set()
    for subdir in set(parts) | set(merged.parts):
        new, old = parts.get(subdir, {}), merged.parts.get(subdir, {})
        if new != old:
            changed |= {name for name, version in new.items() if old.get(name) != version}
            changed |= old.keys() - new.keys()
    few = len(changed) <= FEW
    for name in changed:
        found = [subdir for subdir, part in parts.items() if name in part]
        if not found:
            if merged.entries.pop(name, None) is not None and few:
                del merged.order[bisect.bisect_left(merged.order, name)]
            continue
        if name not in merged.entries and few:
            bisect.insort(merged.order, name)
        versions = [parts[subdir][name] for subdir in found]
        entry = {
            "subdirs": found,
            "version": versions[0] if len(versions) == 1 else newest_version(set(versions)),
        }
        merged.entries[name] = f"{json.dumps(name)}: {json.dumps(entry)}"
    if not few:
        merged.order = sorted(merged.entries)
    subdirs = sorted({"noarch"} | {subdir for subdir, part in parts.items() if part})
    packages = ", ".join(map(merged.entries.__getitem__, merged.order))
    body = f'{{"channeldata_version": 1, "packages": {{{packages}}}, "subdirs": '
    write_bytes_atomic(conda_dir / "channeldata.json", f"{body}{json.dumps(subdirs)}}}".encode())
    merged.parts, merged.signature = parts, _signature(conda_dir / "channeldata.json")
    _MERGED[str(conda_dir)] = merged


class Watch:
    """Which subdirs' repodata (and channels' channeldata) were last seen current, so a
    server re-checks a hot path with a few `stat` calls, not a read; a subdir seen stale is
    for the caller to `ensure` (off the event loop: a rebuild reads every shard)."""

    def __init__(self) -> None:
        self._verified: dict[str, tuple[object, ...]] = {}

    @staticmethod
    def _key(folder: str) -> tuple[object, ...]:
        return tuple(
            _signature(Path(folder, name)) for name in (shards.SHARD_INDEX, STAMP, "repodata.json")
        )

    def current(self, folder: str) -> bool:
        """Whether the subdir at `folder` has repodata files made from its shard index."""
        key = self._key(folder)
        if self._verified.get(folder) == key:
            return True
        if not is_current(Path(folder)):
            return False
        self._verified[folder] = key
        return True

    def channel_current(self, conda_dir: str) -> bool:
        """Whether every subdir's repodata, and channeldata.json, are current."""
        root = Path(conda_dir)
        folders = [str(folder) for folder in _subdirs(root)] if root.is_dir() else []
        if not all(self.current(folder) for folder in folders):
            return False
        key = (*(self._key(f) for f in folders), _signature(root / CHANNELDATA_STAMP))
        if self._verified.get(conda_dir) == key:
            return True
        state = {Path(folder).name: index_digest(Path(folder)) for folder in folders}
        if _read_json(root / CHANNELDATA_STAMP) != state:
            return False
        self._verified[conda_dir] = key
        return True
