"""An inheriting channel's pages and indexes, merged from its levels' files when read.

A channel with bases serves its own pre-rendered pages and repodata merged with its bases'
(`channel.merging`, nearest file name first). Nothing is written into the descendants on
publish: each merged document is cached in memory under the `stat` signatures of the
level files it was made from. A request first stats `channels/.changed`, which every
rewrite of any channel's indexes grows (`bases.note_change`): unchanged, the cached
document is current (one `stat`, as a flat channel's page costs one); changed, the level
files are stat'ed again and, if one of them changed, merged again. So a publish into a
base costs what it costs in a flat channel, and each descendant pays one merge the first
time it is read afterwards (docs/performance.md measures both).

The ETag of a merged document is a hash of its bytes, so every worker and every server
sends the same one for the same content. Shards that exist at no level (a package name
found at several levels) are written once, content-addressed, into
`<home>/cache/merged-shards/`, and found there like any level's shard. Each merge that
names one touches it; one no merge named for `MERGED_SHARD_KEEP` seconds is removed (each
process sweeps the folder every `MERGED_SWEEP_EVERY`), so the folder holds what the
current merges name, not one file per change of a shared name for ever. A request for a
merged shard that is not there (a reader's merged index older than that, or a sweep
racing a merge) makes its channel's merged shard index again, writing what it names, at
most every `MERGED_REMAKE_EVERY` seconds per index.

A level the reader may not read (per-channel permissions) is left out of what they are
served (`skip`, part of every cache key), and the fast path serves an inheriting channel
only when anyone may read all its levels.

Upstream mirrors as levels: their repodata comes through the mirror relay's cache
(`upstream_relay`), asked again at most every `UPSTREAM_RECHECK` seconds; a channel with
one serves no shard index (clients fall back to repodata.json, which holds everything).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from pathlib import Path
from typing import Any

from drawbridge.channel import merging, repodata_files
from drawbridge.channel.bases import CHANGES, STAMP, Level, levels_of
from drawbridge.channel.stamps import Signature as FileSignature
from drawbridge.channel.stamps import Stamped, signature
from drawbridge.channel.storage import write_bytes_atomic
from drawbridge.channel.upstream_conda import UpstreamConda
from drawbridge.server.index_files import (
    Answer,
    Representation,
    answer_representation,
    choose_representation,
)
from drawbridge.server.responses import CACHE_INDEX

#: how often a server looks at the bases stamp (`channel.bases.STAMP`), in seconds
BASES_RECHECK = 0.25
#: how often an HTTP mirror's repodata is asked for again by a merge, in seconds
UPSTREAM_RECHECK = 60.0
MAX_ENTRIES = 4096
#: level documents (repodata, channeldata) kept parsed, shared by every inheriting channel
MAX_PARSED = 64
#: seconds a merged shard is kept after the last merge that named it
MERGED_SHARD_KEEP = 86400.0
#: how often a process sweeps the merged-shards cache, in seconds
MERGED_SWEEP_EVERY = 3600.0
#: how often a missing merged shard may make its merged shard index again, in seconds
MERGED_REMAKE_EVERY = 10.0

log = logging.getLogger("drawbridge")
#: a level file's (inode, size, mtime_ns), or None where the level has no such file
Signature = FileSignature | None


def _representation(body: bytes, mtime: float, variant: str = "") -> Representation:
    etag = '"m-' + hashlib.sha256(body).hexdigest()[:32] + variant + '"'
    return Representation(
        body=body,
        etag=etag,
        last_modified=formatdate(mtime, usegmt=True),
        mtime=mtime,
        signature=(0, len(body), int(mtime * 1e9)),
    )


@dataclass(frozen=True)
class Merged:
    """One merged document's bodies by name (`html`, `json`, `repodata.json`, ...); the
    `.gz` and `.zst` twins and the representations are made when first asked for."""

    signatures: tuple[Signature, ...]
    changes: Signature  # `channels/.changed` as it was when the signatures were taken
    documents: dict[str, bytes]
    mtime: float
    made: dict[str, Representation] = field(default_factory=dict, compare=False)

    def representation(self, name: str) -> Representation | None:
        """The representation of document `name` (or of a document's `.gz`/`.zst` twin)."""
        found = self.made.get(name)
        if found is None:
            body = self._body(name)
            if body is None:
                return None
            variant = "-gz" if name.endswith(".gz") else ""
            found = self.made[name] = _representation(body, self.mtime, variant)
        return found

    def _body(self, name: str) -> bytes | None:
        if name in self.documents:
            return self.documents[name]
        stem, _, suffix = name.rpartition(".")
        if stem in self.documents and suffix == "gz":
            return gzip.compress(self.documents[stem], 6, mtime=0)
        if stem in self.documents and suffix == "zst":
            return merging.compress(self.documents[stem])
        return None


@dataclass
class _BasesView:
    """The bases as read at one stamp, with what was made from them: each channel's levels
    and the merged documents. A new stamp makes a new view, so nothing computed from older
    bases lands in it."""

    stamp: Signature
    bases: dict[str, list[Level]]
    levels: dict[str, list[Level]] = field(default_factory=dict)
    entries: OrderedDict[tuple[object, ...], Merged] = field(default_factory=OrderedDict)


class InheritedViews:
    """Merged pages and indexes of the channels that have bases, cached by level signature.

    `folder(channel, view)` gives a local level's folder of a view (`simple`, `files`,
    `conda`); `mirror(name)` an upstream mirror (None if it is no longer configured);
    `upstream_file(mirror, subdir, filename, refresh)` the relay's cached copy of an HTTP
    mirror's index file, asked of the mirror first with `refresh` (None if there is none).
    """

    def __init__(
        self,
        home_channels: Path,
        cache_dir: Path,
        read_bases: Callable[[], dict[str, list[Level]]],
        folder: Callable[[str, str], str],
        mirror: Callable[[str], UpstreamConda | None],
        upstream_file: Callable[[UpstreamConda, str, str, bool], Path | None],
    ) -> None:
        self._bases: Stamped[_BasesView] = Stamped(
            home_channels / STAMP,
            lambda stamp: _BasesView(stamp, self._read_bases()),
            _BasesView(None, {}),
            check_every=BASES_RECHECK,
        )
        self._changes_path = str(home_channels / CHANGES)
        self._read_bases = read_bases
        self._folder = folder
        self._mirror = mirror
        self._upstream_file = upstream_file
        self.shards_dir = cache_dir / "merged-shards"
        self._shards_root = str(self.shards_dir)
        self._swept_at = -MERGED_SWEEP_EVERY  # the first merge sweeps what earlier runs left
        self._remade_at: dict[tuple[object, ...], float] = {}
        self._upstream_checked: dict[tuple[str, str], float] = {}
        self._parsed: OrderedDict[tuple[str, Signature], object] = OrderedDict()

    # -- levels -------------------------------------------------------------------------------

    def _current(self) -> _BasesView:
        """The bases view, read again when the bases stamp changed (looked at every
        BASES_RECHECK seconds; `channel.stamps`): a request that comes while another thread
        reads the bases waits for that read and uses it, rather than use the old ones (a
        channel just given bases must never be served flat)."""
        return self._bases.current()

    def levels(self, channel: str) -> list[Level]:
        """`channel`'s levels, nearest first (just itself when it has no bases)."""
        view = self._current()
        levels = view.levels.get(channel)
        if levels is None:
            levels = view.levels[channel] = levels_of(channel, view.bases)
        return levels

    def served(self, channel: str, skip: frozenset[Level] = frozenset()) -> list[Level]:
        """`channel`'s levels without `skip` (the levels the reader may not read)."""
        levels = self.levels(channel)
        return [level for level in levels if level not in skip] if skip else levels

    def watch_bases(self, signal: Callable[[], int]) -> None:
        """Read the bases again whenever `signal()` moves (`channel.changes.Listener`)."""
        self._bases.watch(signal)

    def forget_bases(self) -> None:
        """Read the bases again on the next request (this process changed them)."""
        self._bases.forget()

    def inherits(self, channel: str) -> bool:
        return len(self.levels(channel)) > 1

    def local_only(self, channel: str) -> bool:
        """Whether every level is a channel of this home (no upstream mirror)."""
        return not any(level.upstream for level in self.levels(channel))

    def candidates(
        self, channel: str, view: str, relative: str, skip: frozenset[Level] = frozenset()
    ) -> list[str]:
        """The paths a file of `channel`'s `view` may have at its local levels (but `skip`),
        nearest first (and the merged-shards cache for a shard)."""
        paths = [
            f"{self._folder(level.name, view)}/{relative}"
            for level in self.served(channel, skip)
            if not level.upstream
        ]
        if view == "conda" and "/shards/" in relative:
            paths.append(f"{self._shards_root}/{relative.rsplit('/', 1)[1]}")
        return paths

    # -- the merge cache ----------------------------------------------------------------------

    def _cached(
        self,
        key: tuple[object, ...],
        channel: str,
        sources_of: Callable[[], list[str | None]],
        merge: Callable[[list[Any]], dict[str, Any]],
        parse: bool = False,
    ) -> Merged | None:
        """The merged document `key`: from the cache while nothing changed, else made again
        from the level files `sources_of()` names (if any of them changed); `merge` gets
        each file's bytes (or its JSON, parsed, with `parse`), None where a level has none."""
        # the change note is read before the level files: a change between the two makes
        # the next request look again
        view = self._current()
        entries = view.entries
        trusted = self.local_only(channel)
        changes = signature(self._changes_path) if trusted else None
        cached = entries.get(key)
        if cached is not None and changes is not None and cached.changes == changes:
            return cached
        sources = sources_of()
        signatures = tuple(signature(s) if s else None for s in sources)
        if all(s is None for s in signatures):
            entries.pop(key, None)
            return None
        if cached is not None and cached.signatures == signatures:
            entries[key] = cached = replace(cached, changes=changes)
            entries.move_to_end(key)
            return cached
        bodies = [
            self._read(source, signature, parse) if signature is not None and source else None
            for source, signature in zip(sources, signatures, strict=True)
        ]
        # never older than the last change of bases: a level dropped must not make
        # Last-Modified go back (an If-Modified-Since client would get a wrong 304)
        stamps = [s[2] for s in (*signatures, view.stamp) if s is not None]
        mtime = max(stamps) / 1e9
        made = merge(bodies)
        if not made:
            return None
        fresh = Merged(signatures, changes, made, mtime)
        entries[key] = fresh
        if len(entries) > MAX_ENTRIES:
            entries.popitem(last=False)
        return fresh

    def _read(self, source: str, signature: Signature, parse: bool) -> object:
        """A level file's bytes, or its parsed JSON (kept by signature: one base's repodata
        is parsed once for all the channels inheriting from it)."""
        key = (source, signature)
        if parse and key in self._parsed:
            return self._parsed[key]
        try:
            with open(source, "rb") as handle:
                body = handle.read()
        except OSError:
            return None
        if not parse:
            return body
        document = self._parsed[key] = json.loads(body)
        if len(self._parsed) > MAX_PARSED:
            self._parsed.popitem(last=False)
        return document

    # -- the pip view -------------------------------------------------------------------------

    def simple_page(
        self, channel: str, project: str | None, skip: frozenset[Level] = frozenset()
    ) -> Merged | None:
        """`html`, `html.gz`, `json`, `json.gz` of a project page (or the root list with
        `project` None); None if no level has it."""
        relative = f"{project}/index.json" if project else "index.json"

        def sources() -> list[str | None]:
            return [
                f"{self._folder(level.name, 'simple')}/{relative}"
                for level in self.served(channel, skip)
                if not level.upstream
            ]

        def merge(bodies: list[bytes | None]) -> dict[str, Any]:
            present = [b for b in bodies if b is not None]
            if not present:
                return {}
            if project:
                html, page = merging.merge_project_pages(present)
            else:
                html, page = merging.merge_root_pages(present)
            return {"html": html.encode(), "json": page.encode()}

        return self._cached(("simple", channel, project, skip), channel, sources, merge)

    # -- the conda view -----------------------------------------------------------------------

    def _conda_sources(
        self, channel: str, relative: str, skip: frozenset[Level], upstream: bool = True
    ) -> list[str | None]:
        sources: list[str | None] = []
        for level in self.served(channel, skip):
            if not level.upstream:
                folder = self._folder(level.name, "conda")
                if relative == "channeldata.json":
                    repodata_files.ensure_channel(Path(folder))
                elif relative.endswith("/repodata.json"):
                    repodata_files.ensure(Path(folder, relative).parent)
                sources.append(f"{folder}/{relative}")
                continue
            mirror = self._mirror(level.name)
            if mirror is None or not upstream:
                sources.append(None)
            elif mirror.local_root is not None:
                sources.append(str(mirror.local_root / relative))
            else:
                sources.append(self._upstream_copy(mirror, relative))
        return sources

    def _upstream_copy(self, mirror: UpstreamConda, relative: str) -> str | None:
        subdir, _, filename = relative.rpartition("/")
        key = (mirror.name, relative)
        now = time.monotonic()
        ask = now - self._upstream_checked.get(key, -UPSTREAM_RECHECK) >= UPSTREAM_RECHECK
        if ask:
            self._upstream_checked[key] = now
        found = self._upstream_file(mirror, subdir, filename, ask)
        return str(found) if found else None

    def repodata(
        self, channel: str, subdir: str, skip: frozenset[Level] = frozenset()
    ) -> Merged | None:
        """`repodata.json` (+ `.gz`) and `repodata.json.zst` of one subdir, merged."""

        def sources() -> list[str | None]:
            return self._conda_sources(channel, f"{subdir}/repodata.json", skip)

        def merge(documents: list[dict[str, Any] | None]) -> dict[str, Any]:
            present = [document for document in documents if document is not None]
            if not present:
                return {}
            data = json.dumps(merging.merge_repodata(present), separators=(",", ":")).encode()
            return {"repodata.json": data}

        key = ("repodata", channel, subdir, skip)
        return self._cached(key, channel, sources, merge, parse=True)

    def shard_index(
        self, channel: str, subdir: str, skip: frozenset[Level] = frozenset()
    ) -> Merged | None:
        """`repodata_shards.msgpack.zst` of one subdir, merged (None with an upstream level);
        new shards are written into the merged-shards cache first."""
        if not self.local_only(channel):
            return None
        levels = self.served(channel, skip)

        def sources() -> list[str | None]:
            return self._conda_sources(channel, f"{subdir}/repodata_shards.msgpack.zst", skip)

        def merge(bodies: list[bytes | None]) -> dict[str, Any]:
            present = [(lvl, b) for lvl, b in zip(levels, bodies, strict=True) if b is not None]
            if not present:
                return {}

            def read_shard(position: int, digest: str) -> bytes:
                folder = self._folder(present[position][0].name, "conda")
                return Path(f"{folder}/{subdir}/shards/{digest}.msgpack.zst").read_bytes()

            result = merging.merge_shard_indexes([b for _, b in present], read_shard, subdir)
            for name, body in result.new_shards.items():
                _touch_or_write(self.shards_dir / name, body)
            self._sweep_now_and_then()
            return {"repodata_shards.msgpack.zst": result.index}

        return self._cached(("shards", channel, subdir, skip), channel, sources, merge)

    def remake_shards(
        self, channel: str, subdir: str, skip: frozenset[Level] = frozenset()
    ) -> bool:
        """Merge `channel`'s shard index of `subdir` again, writing the merged shards it names
        that are missing; False (nothing done) if it was made so less than
        `MERGED_REMAKE_EVERY` seconds ago, or there is none."""
        key = ("shards", channel, subdir, skip)
        now = time.monotonic()
        if now - self._remade_at.get(key, -MERGED_REMAKE_EVERY) < MERGED_REMAKE_EVERY:
            return False
        self._remade_at[key] = now
        self._current().entries.pop(key, None)
        return self.shard_index(channel, subdir, skip) is not None

    def _sweep_now_and_then(self) -> None:
        """Sweep the merged-shards cache on a thread, at most every MERGED_SWEEP_EVERY."""
        now = time.monotonic()
        if now - self._swept_at < MERGED_SWEEP_EVERY:
            return
        self._swept_at = now
        threading.Thread(
            target=sweep_merged_shards,
            args=(self.shards_dir, MERGED_SHARD_KEEP),
            name="drawbridge-merged-shards",
            daemon=True,
        ).start()

    def channeldata(self, channel: str, skip: frozenset[Level] = frozenset()) -> Merged | None:
        """`channeldata.json`, merged."""

        def sources() -> list[str | None]:
            return self._conda_sources(channel, "channeldata.json", skip, upstream=False)

        def merge(documents: list[dict[str, Any] | None]) -> dict[str, Any]:
            present = [document for document in documents if document is not None]
            if not present:
                return {}
            merged = merging.merge_channeldata(present)
            return {"channeldata.json": json.dumps(merged, indent=1).encode()}

        key = ("channeldata", channel, skip)
        return self._cached(key, channel, sources, merge, parse=True)


def _touch_or_write(target: Path, body: bytes) -> None:
    """Note that a merge names the merged shard `target` (its time, which the sweep reads),
    writing it if it is not there."""
    try:
        os.utime(target)
    except FileNotFoundError:
        write_bytes_atomic(target, body)
    except OSError as error:  # not ours to touch: it may be swept early, and made again
        log.debug("merged shard %s not touched: %s", target, error)


def sweep_merged_shards(folder: Path, keep: float) -> int:
    """Remove the files of the merged-shards cache `folder` that no merge touched for `keep`
    seconds (a crash's temporaries too); return how many."""
    cutoff = time.time() - keep
    removed = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                        removed += 1
                except FileNotFoundError:  # another process's sweep
                    continue
                except OSError as error:
                    log.warning("merged shard %s not removed: %s", entry.path, error)
    except FileNotFoundError:  # no merge wrote one yet
        return 0
    if removed:
        log.info("%d merged shard(s) no merge named for %.0f h removed", removed, keep / 3600)
    return removed


def answer_merged(
    merged: Merged | None,
    name: str,
    media_type: str,
    request_headers: dict[str, str],
    vary: str | None = None,
    gzip_twin: bool = False,
) -> Answer | None:
    """The answer sending the merged document `name` (its `.gz` twin where the client takes
    gzip and `gzip_twin`); None if no level has the document."""
    if merged is None:
        return None
    representation, encoding = choose_representation(
        lambda twin: merged.representation(f"{name}.gz" if twin else name),
        request_headers,
        gzip_twin,
    )
    if representation is None:
        return None
    return answer_representation(
        representation, encoding, media_type, CACHE_INDEX, request_headers, vary, gzip_twin
    )
