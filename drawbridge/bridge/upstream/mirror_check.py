"""Check a conda mirror before it is connected: reachable, with repodata, and what it holds.

`drawbridge upstream add` runs `check_mirror` on the spot, so a wrong URL, a folder that is
not a channel's root, or a mirror without `python` is said at once, not at the first
`build` or `lock`. What is found (subdirs, how many packages each, the Pythons) is a
`MirrorCheck` the command prints.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx
import rattler

from drawbridge.bridge.errors import BridgeError
from drawbridge.channel.conda_packages import KNOWN_SUBDIRS
from drawbridge.channel.upstream_conda import UpstreamConda

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
#: the subdirs looked at first, and the order they are listed in
COMMON_SUBDIRS = ("noarch", "linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64")


class MirrorUnusable(BridgeError):
    """A conda mirror that cannot be reached or holds no repodata."""


@dataclass(frozen=True)
class SubdirContents:
    """One subdir of a mirror: how many package names it holds, and its Pythons (X.Y)."""

    subdir: str
    packages: int
    pythons: tuple[str, ...] = ()


@dataclass(frozen=True)
class MirrorCheck:
    """What a mirror holds, subdir by subdir."""

    mirror: UpstreamConda
    subdirs: tuple[SubdirContents, ...]

    @property
    def pythons(self) -> tuple[str, ...]:
        """Every Python X.Y any subdir has."""
        found = {python for contents in self.subdirs for python in contents.pythons}
        return tuple(sorted(found, key=lambda v: tuple(int(p) for p in v.split("."))))


def _subdir_order(subdir: str) -> tuple[int, str]:
    return (
        COMMON_SUBDIRS.index(subdir) if subdir in COMMON_SUBDIRS else len(COMMON_SUBDIRS),
        subdir,
    )


def present_subdirs(mirror: UpstreamConda) -> list[str]:
    """The subdirs with a repodata.json; MirrorUnusable if the mirror cannot be reached."""
    candidates = sorted(KNOWN_SUBDIRS, key=_subdir_order)
    root = mirror.local_root
    if root is not None:
        if not root.is_dir():
            raise MirrorUnusable(
                f"{root} is not a folder: give the folder holding the mirror's noarch/ and "
                "linux-64/ (or a http(s):// URL)"
            )
        return [s for s in candidates if (root / s / "repodata.json").is_file()]
    found = []
    with httpx.Client(timeout=TIMEOUT, follow_redirects=True) as client:
        for subdir in candidates:
            url = mirror.remote_url(subdir, "repodata.json")
            try:
                answer = client.head(url)
                if answer.status_code == 405:  # a server that does not answer HEAD
                    with client.stream("GET", url) as streamed:
                        answer = streamed
            except httpx.HTTPError as error:
                raise MirrorUnusable(
                    f"cannot reach {mirror.location}: {error}; check the URL, and that this "
                    "machine (the Drawbridge server) can reach it"
                ) from None
            if answer.status_code in (401, 403):
                raise MirrorUnusable(
                    f"{url} answered {answer.status_code}: the mirror needs credentials "
                    "Drawbridge does not send; ask for anonymous read access from this server"
                )
            if answer.status_code == 200:
                found.append(subdir)
    return found


def check_mirror(mirror: UpstreamConda, cache_dir: Path) -> MirrorCheck:
    """Look the mirror over: which subdirs, how many packages each, which Pythons."""
    subdirs = present_subdirs(mirror)
    if not subdirs:
        raise MirrorUnusable(
            f"{mirror.location} has no repodata.json in any subdir (looked for "
            f"{', '.join(f'{s}/repodata.json' for s in COMMON_SUBDIRS)} and the other conda "
            "subdirs): give the channel's root, the folder or URL that holds noarch/ and "
            "linux-64/"
        )
    channel = rattler.Channel(mirror.location)
    gateway = rattler.Gateway(cache_dir=cache_dir, show_progress=False)
    contents = []
    try:
        for subdir in subdirs:
            platform = [rattler.Subdir(subdir)]
            names = asyncio.run(gateway.names([channel], platform))
            pythons: set[str] = set()
            if any(name.normalized == "python" for name in names):
                records = asyncio.run(
                    gateway.query([channel], platform, ["python"], recursive=False)
                )
                pythons = {".".join(str(r.version).split(".")[:2]) for per in records for r in per}
            ordered = sorted(
                pythons, key=lambda v: tuple(int(p) for p in v.split(".") if p.isdigit())
            )
            contents.append(SubdirContents(subdir, len(names), tuple(ordered)))
    except Exception as error:  # rattler's gateway errors: unreadable or malformed repodata
        raise MirrorUnusable(f"cannot read the repodata of {mirror.location}: {error}") from None
    return MirrorCheck(mirror, tuple(contents))
