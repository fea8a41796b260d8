"""The company's upstream conda mirrors, as Drawbridge passes them on to air-gapped clients.

`[bridge] upstream_conda` in drawbridge.toml is the one list of them, in priority order.
An entry is `{ name = "corp", url = "https://mirror.corp/conda-forge" }` (what `drawbridge
upstream add` writes; `url` may be a local folder), or a bare location, named by its last
segment (`"https://mirror.corp/conda-forge"` → `conda-forge`), as older homes have them.
Each is served read-only at `/upstream/<name>/<subdir>/<file>`, so a machine that can
reach nothing but Drawbridge still gets `python` and the rest of what the bridge leaves to
upstream. `add_upstream` and `remove_upstream` edit that list in place with tomlkit, so the
operator's comments and layout stay as they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from drawbridge.channel.conda_packages import KNOWN_SUBDIRS
from drawbridge.channel.errors import HomeError
from drawbridge.channel.storage import write_text_atomic

if TYPE_CHECKING:  # tomlkit is imported where the file is edited, not by every reader
    from tomlkit import TOMLDocument
    from tomlkit.items import Array

#: the URL segment the mirrors are served under
UPSTREAM_PREFIX = "upstream"
#: what `drawbridge upstream add` accepts as a name: one URL segment
MIRROR_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
#: the files of a subdir a client may ask a mirror for
INDEX_NAMES = (
    "repodata.json",
    "repodata.json.zst",
    "repodata.json.bz2",
    "repodata_shards.msgpack.zst",
)
#: the comment above a list `add_upstream` has to create
LIST_COMMENT = (
    "The company's conda mirror(s), in priority order: python and what they carry come from "
    "them. `drawbridge upstream add NAME URL|FOLDER` adds one."
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
    """The name a bare location is served under: the last segment of its URL or path."""
    segment = urlparse(location).path.rstrip("/").rsplit("/", 1)[-1] or urlparse(location).netloc
    return unquote(segment).lower()


def parse_entry(entry: object) -> UpstreamConda:
    """One entry of `[bridge] upstream_conda`: a location, or a `{name, url}` table."""
    if isinstance(entry, str) and entry:
        return UpstreamConda(name=upstream_name(entry), location=entry)
    if isinstance(entry, dict) and set(entry) == {"name", "url"}:
        name, url = entry["name"], entry["url"]
        if isinstance(name, str) and isinstance(url, str) and url:
            return UpstreamConda(name=check_mirror_name(name), location=url)
    raise HomeError(
        f"[bridge] upstream_conda: {entry!r} is neither a URL or folder nor "
        '{ name = "NAME", url = "URL or folder" }'
    )


def check_mirror_name(name: str) -> str:
    """`name` if it can name a mirror (one URL segment); HomeError saying why not."""
    if not MIRROR_NAME.match(name):
        raise HomeError(
            f"{name!r} cannot name an upstream mirror: use lowercase letters, digits, '.', '_' "
            "and '-' (at most 64), e.g. conda-forge"
        )
    return name


def upstream_channels(entries: list[Any]) -> dict[str, UpstreamConda]:
    """The configured mirrors by served name, in order; two with the same name clash."""
    named: dict[str, UpstreamConda] = {}
    for entry in entries:
        mirror = parse_entry(entry)
        if mirror.name in named:
            raise HomeError(
                f"[bridge] upstream_conda: {named[mirror.name].location} and {mirror.location} "
                f"would both be served as /{UPSTREAM_PREFIX}/{mirror.name}/; give one another "
                'name: { name = "NAME", url = "..." }'
            )
        named[mirror.name] = mirror
    return named


def check_name_free(entries: list[Any], name: str) -> None:
    """HomeError, saying how to free it, if a configured mirror is served as `name`."""
    known = upstream_channels(entries)
    if name in known:
        raise HomeError(
            f"an upstream mirror named {name!r} is already connected ({known[name].location}); "
            f"remove it first with `drawbridge upstream remove {name}`, or choose another name"
        )


def upstream_locations(entries: list[Any]) -> list[str]:
    """Where the configured mirrors live, in priority order (what solvers are given)."""
    return [mirror.location for mirror in upstream_channels(entries).values()]


def check_upstream_file(subdir: str, name: str, shard: bool = False) -> bool:
    """Whether a client may ask a mirror for `subdir/name`: an index file, shard or package."""
    if subdir not in KNOWN_SUBDIRS or not _FILE_NAME.match(name):
        return False
    if shard:
        return name.endswith(".msgpack.zst")
    return name in INDEX_NAMES or name.endswith((".conda", ".tar.bz2"))


def normalise_location(location: str) -> str:
    """A URL without its trailing slash, or a folder as an absolute path."""
    if urlparse(location).scheme in ("http", "https", "file"):
        return location.rstrip("/")
    return str(Path(location).expanduser().absolute())


def add_upstream(config_path: Path, name: str, location: str) -> UpstreamConda:
    """Append a mirror to `[bridge] upstream_conda`, keeping the file's comments and layout.

    HomeError if the name is taken (the message says how to free it) or cannot be served.
    """
    import tomlkit

    mirror = UpstreamConda(check_mirror_name(name), normalise_location(location))
    document, entries = _upstream_list(config_path)
    check_name_free(list(entries.unwrap()), name)
    entry = tomlkit.inline_table()
    entry.update({"name": mirror.name, "url": mirror.location})
    entries.append(entry)
    entries.multiline(True)
    write_text_atomic(config_path, tomlkit.dumps(document))
    return mirror


def remove_upstream(config_path: Path, name: str) -> UpstreamConda:
    """Drop the mirror served as `name` from `[bridge] upstream_conda` (comments kept)."""
    import tomlkit

    document, entries = _upstream_list(config_path)
    for index, entry in enumerate(entries.unwrap()):
        mirror = parse_entry(entry)
        if mirror.name == name:
            del entries[index]
            write_text_atomic(config_path, tomlkit.dumps(document))
            return mirror
    known = ", ".join(upstream_channels(list(entries.unwrap()))) or "none is connected"
    raise HomeError(f"no upstream mirror named {name!r} ({known}); see `drawbridge upstream list`")


def _upstream_list(config_path: Path) -> tuple[TOMLDocument, Array]:
    """The parsed file and its `[bridge] upstream_conda` array, created when missing."""
    import tomlkit

    try:
        document = tomlkit.parse(config_path.read_text("utf-8"))
    except (OSError, tomlkit.exceptions.ParseError) as error:
        raise HomeError(f"cannot read {config_path}: {error}") from error
    if "bridge" not in document:
        document.add("bridge", tomlkit.table())
    bridge = document["bridge"]
    if "upstream_conda" not in bridge:
        bridge.add(tomlkit.comment(LIST_COMMENT))
        bridge.add("upstream_conda", tomlkit.array())
    entries = bridge["upstream_conda"]
    if not isinstance(entries, tomlkit.items.Array):
        raise HomeError(f"{config_path}: [bridge] upstream_conda must be a list")
    return document, entries
