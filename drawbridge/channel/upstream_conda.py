"""The company's upstream conda mirrors, as Drawbridge passes them on to air-gapped clients.

`[bridge] upstream_conda` lists mirror locations (URLs or local folders). Each is served
read-only at `/upstream/<name>/<subdir>/<file>`, named by the last segment of its location
(`https://mirror.corp/conda-forge` → `conda-forge`), so a machine that can reach nothing
but Drawbridge still gets `python` and the rest of what the bridge leaves to upstream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from drawbridge.channel.conda_packages import KNOWN_SUBDIRS
from drawbridge.channel.errors import HomeError

#: the URL segment the mirrors are served under
UPSTREAM_PREFIX = "upstream"
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
#: the files of a subdir a client may ask a mirror for
INDEX_NAMES = (
    "repodata.json",
    "repodata.json.zst",
    "repodata.json.bz2",
    "repodata_shards.msgpack.zst",
)


@dataclass(frozen=True)
class UpstreamConda:
    """One upstream conda channel: its served name and where it really lives."""

    name: str
    location: str

    @property
    def local_root(self) -> Path | None:
        """The folder of a local mirror (a path or file:// URL); None for HTTP ones."""
        parsed = urlparse(self.location)
        if parsed.scheme in ("http", "https"):
            return None
        if parsed.scheme == "file":
            return Path(unquote(parsed.path))
        return Path(self.location)

    def remote_url(self, subdir: str, name: str) -> str:
        return f"{self.location.rstrip('/')}/{subdir}/{name}"


def upstream_name(location: str) -> str:
    """The name a mirror is served under: the last segment of its URL or path."""
    segment = urlparse(location).path.rstrip("/").rsplit("/", 1)[-1] or urlparse(location).netloc
    return unquote(segment).lower()


def upstream_channels(locations: list[str]) -> dict[str, UpstreamConda]:
    """The configured mirrors by served name; two mirrors with the same last segment clash."""
    named: dict[str, UpstreamConda] = {}
    for location in locations:
        name = upstream_name(location)
        if name in named:
            raise HomeError(
                f"[bridge] upstream_conda: {named[name].location} and {location} would both be "
                f"served as /{UPSTREAM_PREFIX}/{name}/; rename one folder or URL"
            )
        named[name] = UpstreamConda(name=name, location=location)
    return named


def check_upstream_file(subdir: str, name: str, shard: bool = False) -> bool:
    """Whether a client may ask a mirror for `subdir/name`: an index file, shard or package."""
    if subdir not in KNOWN_SUBDIRS or not _FILE_NAME.match(name):
        return False
    if shard:
        return name.endswith(".msgpack.zst")
    return name in INDEX_NAMES or name.endswith((".conda", ".tar.bz2"))
