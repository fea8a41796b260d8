"""Safety checks for archive members: no absolute paths, no `..`, no links leaving the archive."""

from __future__ import annotations

import posixpath
import stat
import tarfile
import zipfile
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


def check_zip_members(archive: str, zf: zipfile.ZipFile) -> None:
    """Check every entry of a zip: safe names, no escaping symlinks, intact CRCs.

    Open it with `limits.open_zip`: the CRC check inflates every entry, which that bounds.
    """
    for info in zf.infolist():
        check_member_name(archive, info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            with zf.open(info) as handle:
                target = read_member(
                    archive, info.filename, handle, info.file_size, MAX_LINK_TARGET
                )
            check_link_target(archive, info.filename, target.decode("utf-8", "replace"))
    try:
        broken = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
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
