"""Safety checks for archive members: no absolute paths, no `..`, no links leaving the
archive; and for zips, nothing two readers would read differently or one cannot read."""

from __future__ import annotations

import lzma
import posixpath
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterable

from drawbridge.channel.errors import InvalidDistribution
from drawbridge.channel.limits import MAX_LINK_TARGET, read_member


def check_member_name(archive: str, name: str) -> None:
    """Raise InvalidDistribution if `name` is absolute or climbs out of the archive root."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        raise InvalidDistribution(f"{archive}: entry {name!r} is an absolute path")
    if ".." in normalised.split("/"):
        raise InvalidDistribution(f"{archive}: entry {name!r} climbs out of the archive ('..')")


def check_link_target(archive: str, name: str, target: str) -> None:
    """Raise InvalidDistribution if the link `name` -> `target` resolves outside the archive."""
    if target.startswith("/") or "\\" in target:
        raise InvalidDistribution(f"{archive}: link {name!r} points outside to {target!r}")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if resolved == ".." or resolved.startswith("../"):
        raise InvalidDistribution(f"{archive}: link {name!r} points outside to {target!r}")


#: compression methods zipfile, and so pip and installer, can read
READABLE_ZIP_METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
#: general-purpose flag bits of an entry no installer reads: encrypted (0), compressed
#: patched data (5), strong encryption (6)
_ENCRYPTED, _PATCHED, _STRONG_ENCRYPTION = 0x01, 0x20, 0x40
#: what zipfile raises reading an entry it cannot: damage (BadZipFile and the
#: decompressors' errors), a password it lacks (RuntimeError), a method or feature it
#: does not implement (NotImplementedError)
ZIP_READ_ERRORS = (
    zipfile.BadZipFile,
    EOFError,
    OSError,
    ValueError,
    zlib.error,
    lzma.LZMAError,
    RuntimeError,
    NotImplementedError,
)


def check_zip_entries(archive: str, zf: zipfile.ZipFile) -> None:
    """Check a zip's directory before an entry is read: the archive starts the file, each
    entry has a safe name that no other entry has, is not encrypted, and is compressed
    by a method pip can read. PyPI refuses all of these, and readers disagree about such
    files (a streaming reader, as uv's, sees what is before the zip and the first of two
    entries of a name; zipfile skips the one and takes the last of the other)."""
    infos = zf.infolist()
    start = min((info.header_offset for info in infos), default=zf.start_dir)
    if start != 0:
        raise InvalidDistribution(
            f"{archive}: {start:,} bytes of other data come before the zip archive; PyPI "
            "refuses such files and streaming readers cannot read them: build it again"
        )
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        check_member_name(archive, name)
        if name in seen:
            raise InvalidDistribution(
                f"{archive}: entry {name!r} appears twice; readers differ on which copy they "
                "take, and PyPI refuses duplicate names: build it again"
            )
        seen.add(name)
        if info.flag_bits & (_ENCRYPTED | _STRONG_ENCRYPTION):
            raise InvalidDistribution(
                f"{archive}: entry {name!r} is encrypted; installers read no encrypted "
                "entry: build it again without a password"
            )
        if info.flag_bits & _PATCHED:
            raise InvalidDistribution(
                f"{archive}: entry {name!r} holds compressed patched data (zip flag bit 5), "
                "which installers cannot read: build it again"
            )
        if info.compress_type not in READABLE_ZIP_METHODS:
            raise InvalidDistribution(
                f"{archive}: entry {name!r} is compressed with zip method "
                f"{info.compress_type}{' (AES encryption)' if info.compress_type == 99 else ''}, "
                f"which pip cannot read; use one of "
                f"{', '.join(READABLE_ZIP_METHODS.values())}: build it again"
            )


def check_zip_members(archive: str, zf: zipfile.ZipFile) -> None:
    """Check every entry of a zip: its directory (`check_zip_entries`), no escaping
    symlinks, intact data and CRCs.

    Open it with `limits.open_zip`: the CRC check inflates every entry, which that bounds.
    """
    check_zip_entries(archive, zf)
    try:
        for info in zf.infolist():
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                with zf.open(info) as handle:
                    target = read_member(
                        archive, info.filename, handle, info.file_size, MAX_LINK_TARGET
                    )
                check_link_target(archive, info.filename, target.decode("utf-8", "replace"))
        broken = zf.testzip()
    except ZIP_READ_ERRORS as error:
        raise InvalidDistribution(f"{archive}: corrupt zip archive ({error})") from error
    if broken is not None:
        raise InvalidDistribution(f"{archive}: corrupt zip archive (bad CRC in {broken!r})")


def check_tar_members(archive: str, members: Iterable[tarfile.TarInfo]) -> None:
    """Check every entry of a tar: safe names, links inside, no devices."""
    for member in members:
        check_member_name(archive, member.name)
        if member.issym():
            check_link_target(archive, member.name, member.linkname)
        elif member.islnk():
            check_member_name(archive, member.linkname)
        elif not (member.isfile() or member.isdir()):
            raise InvalidDistribution(f"{archive}: entry {member.name!r} is a device or fifo")
