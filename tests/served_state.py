"""What a channel serves, byte for byte, and an in-process client to ask the real app.

`served_bytes` is the before/after comparison of issue 10: every file a channel serves
(indexes, pages, packages, .metadata) with its bytes. `InProcess` is the in-process
tier's `AppClient`, not started (no recovery), with twine-style uploads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import httpx
import msgpack
import zstandard

from drawbridge.channel.database import Database
from drawbridge.channel.home import Home
from drawbridge.channel.storage import is_temporary
from drawbridge.channel.tokens import Role, create_token
from servers import AppClient

#: files in a channel's folder that are never served: the lock, the index markers (a run
#: that failed keeps its marker, so the next one redoes everything), what is set aside
NOT_SERVED = (".lock", ".indexing", ".pages-pending", "quarantine/")


def served_bytes(home: Home, channel: str = "main") -> dict[str, bytes]:
    """Every file the channel serves, by path relative to the channel, with its bytes
    (temporary files, which recovery removes, are not served either)."""
    root = home.channel(channel).root
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        temporary = any(is_temporary(part) for part in path.relative_to(root).parts)
        if path.is_file() and not relative.startswith(NOT_SERVED) and not temporary:
            found[relative] = path.read_bytes()
    return found


def indexed(served: dict[str, bytes]) -> dict[str, bytes]:
    """`served` as far as clients can tell: rattler stamps a subdir's shard index with the
    time of each run (`created_at`), which is left out, and keeps every shard it ever
    wrote (a client's cached index may still name one), of which only those an index
    names are kept."""
    found, named = {}, set()
    for path, data in served.items():
        if path.endswith("/repodata_shards.msgpack.zst"):
            document = msgpack.unpackb(
                zstandard.ZstdDecompressor().decompressobj().decompress(data)
            )
            document["info"].pop("created_at", None)
            folder = path.rsplit("/", 1)[0] + "/shards/"
            named |= {
                f"{folder}{digest.hex()}.msgpack.zst" for digest in document["shards"].values()
            }
            data = msgpack.packb(document)
        found[path] = data
    return {path: data for path, data in found.items() if "/shards/" not in path or path in named}


def changed(before: dict[str, bytes], after: dict[str, bytes]) -> list[str]:
    """The paths added, removed or rewritten with other bytes between two snapshots."""
    return sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )


class InProcess(AppClient):
    """The real application of a home, answered in this process without starting it (no
    recovery), with an uploader's token for twine-style uploads."""

    def __init__(self, home: Home) -> None:
        super().__init__(home, lifespan=False)
        self.token = create_token(Database(home.database_url), "uploader", Role.uploader)

    def upload(
        self, path: Path, channel: str = "main", filename: str | None = None
    ) -> httpx.Response:
        """Upload a file as twine does, with its sha256."""
        data = path.read_bytes()
        fields = {
            ":action": "file_upload",
            "protocol_version": "1",
            "sha256_digest": hashlib.sha256(data).hexdigest(),
        }
        return self.request(
            "POST",
            f"/{channel}/upload/",
            data=fields,
            files={"content": (filename or path.name, data)},
            auth=("__token__", self.token),
        )


def home_state(home: Home) -> tuple[dict[str, str], dict[str, list[tuple]]]:
    """Everything a home holds: each file's sha256 (but the SQLite database's, whose bytes
    are compared as rows, and the channels' locks) and every table's rows, sorted."""
    from sqlalchemy import select

    from drawbridge.bridge import records  # noqa: F401  (the bridge's tables, registered)
    from drawbridge.channel.database import Base

    files = {
        path.relative_to(home.root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(home.root.rglob("*"))
        if path.is_file() and not path.name.startswith("drawbridge.db") and path.name != ".lock"
    }
    database = Database(home.database_url)
    with database.session() as session:
        rows = {
            table.name: sorted(
                (tuple(str(value) for value in row) for row in session.execute(select(table))),
            )
            for table in Base.metadata.sorted_tables
        }
    database.engine.dispose()
    return files, rows


def as_listed(served: dict[str, bytes]) -> dict[str, object]:
    """`served` as a client reads it, where two homes that hold the same files must agree:
    the pip pages and files byte for byte, each subdir's repodata.json parsed without
    rattler's `indexed_timestamp` (the time of the indexing run, not of the package), and
    not the encodings of the same repodata (.zst, .gz, shards)."""
    found: dict[str, object] = {}
    for path, data in served.items():
        if path.startswith("conda/") and "repodata" in path and not path.endswith("/repodata.json"):
            continue
        if path.startswith("conda/") and "/shards/" in path:
            continue
        if path.endswith("/repodata.json"):
            document = json.loads(data)
            for key in ("packages", "packages.conda"):
                for record in document.get(key, {}).values():
                    record.pop("indexed_timestamp", None)
            found[path] = document
        else:
            found[path] = data
    return found
