"""What a channel serves, byte for byte, and an in-process client to ask the real app.

`served_bytes` is the before/after comparison of issue 10: every file a channel serves
(indexes, pages, packages, .metadata) with its bytes. `InProcess` is the in-process
tier's `AppClient`, not started (no recovery), with twine-style uploads.
`assert_consistent` is what a crash or a failure must leave: store, database and indexes
agreeing; `no_temporaries` waits until a folder has no temporary file left in it.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import httpx
import msgpack
import zstandard
from sqlalchemy import select

from drawbridge.channel import repodata_files
from drawbridge.channel.database import (
    CondaPackageRow,
    Database,
    DistributionRow,
    PublishIntentRow,
)
from drawbridge.channel.home import Home
from drawbridge.channel.storage import is_temporary, wait_for_releases
from drawbridge.channel.tokens import Role, create_token
from servers import AppClient

#: files in a channel's folder that are never served: the lock, the index markers (a run
#: that failed keeps its marker, so the next one redoes everything), what is set aside
NOT_SERVED = (".lock", ".indexing", ".pages-pending", "quarantine/")


def served_bytes(home: Home, channel: str = "main") -> dict[str, bytes]:
    """Every file the channel serves, by path relative to the channel, with its bytes
    (temporary files, which recovery removes, are not served either; nor is a dot file,
    such as a subdir's repodata stamp). repodata made from the shards is made first, as a
    server does before serving it."""
    root = home.channel(channel).root
    repodata_files.ensure_channel(root / "conda")
    found = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        temporary = any(is_temporary(part) for part in path.relative_to(root).parts)
        hidden = path.name.startswith(".")
        if path.is_file() and not relative.startswith(NOT_SERVED) and not temporary | hidden:
            found[relative] = path.read_bytes()
    return found


def conda_index_file(folder: Path, name: str = "repodata.json") -> dict[str, Any]:
    """A conda subdir's repodata.json (or, given a channel's conda folder, its
    channeldata.json) as a server would serve it: made from the shards first if stale."""
    if name == "channeldata.json":
        repodata_files.ensure_channel(folder)
    else:
        repodata_files.ensure(folder)
    document: dict[str, Any] = json.loads((folder / name).read_bytes())
    return document


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


PACKAGE_SUFFIXES = (".whl", ".tar.gz", ".zip", ".conda", ".tar.bz2")


def assert_consistent(
    home: Home, channel: str = "main"
) -> tuple[list[DistributionRow], list[CondaPackageRow]]:
    """Store, database and indexes agree: every recorded file is stored with its recorded
    hash, indexed with it and downloadable; nothing unrecorded is stored; no intent, marker
    or temporary file is left. Returns the records."""
    database = Database(home.database_url)
    layout = home.channel(channel)
    with database.session() as session:
        wheels = list(
            session.scalars(select(DistributionRow).where(DistributionRow.channel == channel))
        )
        packages = list(
            session.scalars(select(CondaPackageRow).where(CondaPackageRow.channel == channel))
        )
        intents = list(session.scalars(select(PublishIntentRow)))
    assert intents == [], [(i.path, i.state) for i in intents]
    assert not layout.indexing_marker.exists() and not layout.pages_marker.exists()
    leftovers = [
        p
        for p in layout.root.rglob("*")
        if p.is_file() and any(map(is_temporary, p.relative_to(layout.root).parts))
    ]
    assert leftovers == []  # rattler's empty conda/.tmp folder may stay
    client = InProcess(home)
    for row in wheels:
        page = client.request(
            "GET",
            f"/{channel}/simple/{row.project}/",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"},
        )
        assert {f["filename"]: f["hashes"]["sha256"] for f in page.json()["files"]}.get(
            row.filename
        ) == row.sha256
        assert (
            hashlib.sha256(client.get(f"/{channel}/files/{row.filename}").content).hexdigest()
            == row.sha256
        )
    for row in packages:
        repodata = conda_index_file(layout.conda_dir / row.subdir)
        entries = {**repodata["packages"], **repodata["packages.conda"]}
        assert entries[row.filename]["sha256"] == row.sha256, row.filename
        assert (
            hashlib.sha256(
                client.get(f"/{channel}/conda/{row.subdir}/{row.filename}").content
            ).hexdigest()
            == row.sha256
        )
    recorded = {f"pypi/files/{r.filename}" for r in wheels} | {
        f"conda/{r.subdir}/{r.filename}" for r in packages
    }
    stored = {
        p.relative_to(layout.root).as_posix()
        for p in [*layout.files_dir.iterdir(), *layout.conda_dir.rglob("*")]
        if p.is_file() and p.name.endswith(PACKAGE_SUFFIXES) and "shards" not in p.parts
    }
    assert stored == recorded, "orphans or missing files"
    metadata = {p.name for p in layout.files_dir.glob("*.metadata")}
    assert metadata == {r.filename + ".metadata" for r in wheels if r.metadata_sha256}
    return wheels, packages


def noarch_conda_packages(home: Path) -> list[str]:
    """The .conda packages in the main channel's noarch repodata of the home at `home`."""
    return sorted(conda_index_file(home / "channels/main/conda/noarch")["packages.conda"])


def home_state(home: Home) -> tuple[dict[str, str], dict[str, list[tuple]]]:
    """Everything a home holds: each file's sha256 (but the SQLite database's, whose bytes
    are compared as rows, and the channels' lock files) and every table's rows, sorted."""
    from sqlalchemy import select

    from drawbridge.bridge import records  # noqa: F401  (the bridge's tables, registered)
    from drawbridge.channel.database import Base

    files = {
        path.relative_to(home.root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(home.root.rglob("*"))
        if path.is_file()
        and not path.name.startswith("drawbridge.db")
        and not path.name.startswith(".lock")
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


def served_and_recorded(home: Home) -> tuple[dict[str, bytes], list[str]]:
    """What the channel serves and records; a run that failed must also leave no intent
    and no index marker behind (`recovery` would find work to do: it was half done)."""
    layout = home.channel("main")
    with Database(home.database_url).session() as session:
        rows = [r.filename for r in session.scalars(select(DistributionRow))] + [
            r.filename for r in session.scalars(select(CondaPackageRow))
        ]
        intents = [f"intent {i.state} {i.path}" for i in session.scalars(select(PublishIntentRow))]
    markers = [
        f"marker {m.name}" for m in (layout.indexing_marker, layout.pages_marker) if m.exists()
    ]
    return indexed(served_bytes(home)), sorted(rows) + intents + markers


def temporaries(folder: Path) -> list[Path]:
    """The temporary files directly in `folder` (`storage.is_temporary`)."""
    return [path for path in folder.iterdir() if is_temporary(path.name)]


def no_temporaries(folder: Path, seconds: float = 10) -> None:
    """Wait until `folder` holds no temporary file: old files linked aside go once the
    releases are waited for (as a channel's writer does), and a new shard index written
    ahead and not taken goes once its thread has written it."""
    wait_for_releases()
    deadline = time.monotonic() + seconds
    while temporaries(folder):
        assert time.monotonic() < deadline, f"left behind: {temporaries(folder)}"
        time.sleep(0.005)
