"""Bounds on what checking a file reads and inflates, so no archive exhausts memory or time.

Every member read into memory has a size cap checked against the size the archive
declares, before a byte is inflated; everything else is streamed and counted against an
inflation budget (a ratio of the file's size, with a floor), so a bomb is refused after at
most `INFLATION_FLOOR` bytes or `INFLATION_RATIO` times its own size, whichever is larger.
docs/operating.md states what these add up to for a publish's peak memory.
"""

from __future__ import annotations

import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from drawbridge.channel.errors import ArchiveTooLarge, InvalidDistribution

MiB = 1024 * 1024
#: METADATA (wheels) and PKG-INFO (sdists): stored in the database and served as JSON
MAX_CORE_METADATA = 4 * MiB
#: a conda package's info/index.json (real ones are a few KB)
MAX_INDEX_JSON = 1 * MiB
#: any other info/ file of a conda package (paths.json, about.json…): clients load them whole
MAX_INFO_MEMBER = 64 * MiB
#: the target of a symlink stored in a zip
MAX_LINK_TARGET = 4096
#: a tar's pax or GNU long-name header, which tarfile reads into memory whole
MAX_EXTENDED_HEADER = 1 * MiB
#: entries of a zip (wheels, zip sdists, .conda): zipfile holds ~600 bytes for each
MAX_ZIP_ENTRIES = 100_000
#: members of a tar (sdists, conda packages): tarfile parses ~50,000 headers a second
MAX_TAR_MEMBERS = 250_000
#: everything an archive inflates to, as a multiple of its own size…
INFLATION_RATIO = 200
#: …but never less than this (small honest archives may compress well)
INFLATION_FLOOR = 64 * MiB
#: the largest window a zstd frame may ask for (libzstd's default limit, and rattler's)
MAX_ZSTD_WINDOW = 128 * MiB
#: how much a streaming reader asks for at a time
CHUNK = 1 * MiB


class ByteSource(Protocol):
    """Anything bytes are read from: a file, a zip or tar member, a decompressor's output."""

    def read(self, size: int = -1, /) -> bytes: ...


def inflation_budget(compressed_size: int) -> int:
    """How many bytes an archive of `compressed_size` bytes may inflate to, in total."""
    return max(INFLATION_FLOOR, INFLATION_RATIO * compressed_size)


def too_large(
    archive: str, what: str, size: int, limit: int, unit: str = " bytes"
) -> ArchiveTooLarge:
    """The error for a member or an archive over its limit, naming both sizes."""
    return ArchiveTooLarge(
        f"{archive}: {what} is {size:,}{unit}, over the limit of {limit:,}{unit}"
    )


class InflationGuard:
    """A read-only stream that counts what it passes and refuses to pass more than `budget`.

    Wrap a decompressor's output in it: a bomb then stops at the budget, and no single
    read asks the decompressor for more than `CHUNK` bytes. `inner` may be replaced to
    spend one budget over several streams (the two inner archives of a .conda).
    """

    def __init__(self, inner: ByteSource | None, archive: str, budget: int) -> None:
        self.inner: ByteSource | None = inner
        self.archive, self.budget = archive, budget
        self.passed = 0

    def read(self, size: int | None = -1) -> bytes:
        assert self.inner is not None, "give the guard a stream to read"
        wanted = CHUNK if size is None or size < 0 or size > CHUNK else size
        data = self.inner.read(wanted)
        self.passed += len(data)
        if self.passed > self.budget:
            raise ArchiveTooLarge(
                f"{self.archive}: inflates to more than {self.budget:,} bytes "
                f"({INFLATION_RATIO}x its size, at least {INFLATION_FLOOR // MiB} MiB); "
                "refused as a decompression bomb"
            )
        return data

    def readable(self) -> bool:
        return True


class BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses pax and GNU long-name headers over `MAX_EXTENDED_HEADER`,
    which tarfile would otherwise read into memory whole, whatever size they claim."""

    archive = "the archive"
    _EXTENDED = (
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    )

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in self._EXTENDED and self.size > MAX_EXTENDED_HEADER:
            raise too_large(self.archive, "a tar extended header", self.size, MAX_EXTENDED_HEADER)
        # TarInfo._proc_member is tarfile's private hook for reading a header's payload;
        # typeshed leaves it out
        proceed: tarfile.TarInfo = super()._proc_member(tarfile_)  # type: ignore[misc]
        return proceed


def open_tar_stream(stream: ByteSource, archive: str) -> tarfile.TarFile:
    """A tar read once, front to back, from an already decompressed (guarded) stream."""
    info_type = type("BoundedTarInfo", (BoundedTarInfo,), {"archive": archive})
    # typeshed's fileobj protocol asks for write, seek, tell and close too, which the stream
    # mode "r|" never calls: it only reads
    opened: tarfile.TarFile = tarfile.open(  # type: ignore[call-overload]
        fileobj=stream, mode="r|", tarinfo=info_type
    )
    return opened


def scan_members(tf: tarfile.TarFile, archive: str) -> Iterator[tarfile.TarInfo]:
    """The members of a streamed tar, at most `MAX_TAR_MEMBERS`, forgetting each once the
    next is read: tarfile keeps every header it has seen, which a tar of a million empty
    files would grow without bound."""
    for count, member in enumerate(tf, start=1):
        if count > MAX_TAR_MEMBERS:
            raise too_large(archive, "the number of members", count, MAX_TAR_MEMBERS, unit="")
        yield member
        # the list getmembers() returns (getmembers() itself would read the whole stream);
        # typeshed leaves the attribute out
        tf.members.clear()  # type: ignore[attr-defined]


def read_member(
    archive: str, name: str, handle: ByteSource | None, declared: int, limit: int
) -> bytes:
    """Read one member whose header declares `declared` bytes, refusing it over `limit`
    before reading; a member longer than it declared is refused too."""
    if declared > limit:
        raise too_large(archive, name, declared, limit)
    if handle is None:
        raise InvalidDistribution(f"{archive}: {name} is not a regular file")
    data = handle.read(limit + 1)
    if len(data) > limit:
        raise too_large(archive, name, len(data), limit)
    return data


def open_zip(path: Path, archive: str) -> zipfile.ZipFile:
    """Open a zip after checking, from its end record alone, that it has at most
    `MAX_ZIP_ENTRIES` entries, and that what its entries declare fits the inflation budget."""
    try:
        with path.open("rb") as handle:
            # zipfile's own reader of the end record and its index of the entry count: private
            # (stable since Python 2), so typeshed leaves them out
            end = zipfile._EndRecData(handle)  # type: ignore[attr-defined]
    except OSError as error:
        raise InvalidDistribution(f"{archive}: cannot read it ({error})") from error
    entries: int = end[zipfile._ECD_ENTRIES_TOTAL] if end else 0  # type: ignore[attr-defined]
    if entries > MAX_ZIP_ENTRIES:
        raise too_large(archive, "the number of entries", entries, MAX_ZIP_ENTRIES, unit="")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise InvalidDistribution(f"{archive}: corrupt zip archive ({error})") from error
    budget = inflation_budget(path.stat().st_size)
    declared = sum(info.file_size for info in zf.infolist())
    if declared > budget:
        zf.close()
        raise ArchiveTooLarge(
            f"{archive}: its entries declare {declared:,} bytes inflated, over the limit of "
            f"{budget:,} "
            f"({INFLATION_RATIO}x its size, at least {INFLATION_FLOOR // MiB} MiB); refused as a "
            "decompression bomb"
        )
    return zf
