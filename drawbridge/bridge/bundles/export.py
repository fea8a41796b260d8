"""The outside's side: a channel's files (all, some, or those a receipt lacks) into a bundle.

A bundle is a folder: `chunks/NNNN.bin` (the files' bytes), `manifest.json` (every file
with its role, channel, name, sha256, size and where its bytes are) and `manifest.sig`.
The manifest is written last, so a folder without one is an export that did not finish.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drawbridge.bridge.bundles import signing
from drawbridge.bridge.bundles.chunks import ChunkWriter
from drawbridge.bridge.bundles.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    BundleFile,
    ChannelSettings,
    Manifest,
    Receipt,
    Role,
    canonical,
)
from drawbridge.bridge.errors import BundleError
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.channel.service import Channels

#: the default largest chunk: 1 GiB
DEFAULT_CHUNK_SIZE = 1024**3


@dataclass(frozen=True)
class Carried:
    """One file to carry, before it has a place in the chunks."""

    path: Path
    role: Role
    channel: str
    subdir: str = ""
    made_how: str = ""
    made_from: str = ""
    subject: str = ""
    sha256: str = ""  # as the channel records it ("" for a record made for the export)
    uploaded: str = ""
    uploaded_by: str = ""


@dataclass(frozen=True)
class Selection:
    """What to export from each channel: everything, or only these file names."""

    channel: str
    only: frozenset[str] | None = None  # None: every file of the channel


def channel_files(channels: Channels, selection: Selection) -> list[Carried]:
    """The wheels, sdists and conda packages of a channel (those `selection` names), in a
    stable order (pip files, then conda packages, each by name)."""
    layout = channels.layout(selection.channel)
    wanted = selection.only
    carried: list[Carried] = []
    for project in channels.projects(selection.channel):
        for row in channels.project_files(selection.channel, project, missing_ok=True):
            if wanted is None or row.filename in wanted:
                role: Role = "sdist" if row.packagetype == "sdist" else "wheel"
                carried.append(
                    Carried(
                        layout.files_dir / row.filename,
                        role,
                        selection.channel,
                        sha256=row.sha256,
                        uploaded=timestamp(row.upload_time),
                        uploaded_by=row.uploaded_by,
                    )
                )
    for package in channels.conda_packages(selection.channel):
        if wanted is None or package.filename in wanted:
            carried.append(
                Carried(
                    layout.conda_dir / package.subdir / package.filename,
                    "conda",
                    selection.channel,
                    subdir=package.subdir,
                    made_how=package.made_how,
                    made_from=package.made_from,
                    sha256=package.sha256,
                    uploaded=timestamp(package.upload_time),
                    uploaded_by=package.uploaded_by,
                )
            )
    return sorted(carried, key=lambda c: (c.role != "wheel" and c.role != "sdist", c.path.name))


def write_bundle(
    out: Path,
    channels: Channels,
    selections: Sequence[Selection],
    private_key: Ed25519PrivateKey,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    since: Receipt | None = None,
    extra: Sequence[Carried] = (),
    missing: Collection[str] = (),
    created: dt.datetime | None = None,
    recipes: RecipeBook | None = None,
    kind: str = "channels",
    provenance_from: str = "",
) -> Manifest:
    """Write a bundle of `selections` (and `extra` records) into the new or empty folder
    `out`, leaving out what `since` (a verified receipt) says the inside holds; with
    `provenance_from` (an index URL), each wheel's and sdist's PEP 740 provenance where it
    has one (`provenance`). BundleError if `out` holds anything; a failure leaves no
    manifest, so nothing can import it."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BundleError(f"{out} is not an empty folder; name a new folder with -o")
    out.mkdir(parents=True, exist_ok=True)
    carried = [c for s in selections for c in channel_files(channels, s)] + list(extra)
    records = scratch(out.parent / f".{out.name}-records")
    try:
        if recipes is not None:
            carried += recipe_records(recipes, carried, records)
        if provenance_from:
            from drawbridge.bridge.bundles.provenance import fetch_provenance

            kept = [
                c
                for c in carried
                if not (since and since.holds_file(c.channel, c.path.name, c.sha256))
            ]
            documents, notes = fetch_provenance(provenance_from, kept, records)
            carried += documents
            missing = [*missing, *notes]
        return _write(
            out,
            channels,
            selections,
            private_key,
            chunk_size,
            since,
            carried,
            missing,
            created,
            kind,
        )
    finally:
        remove_scratch(records)


def recipe_records(recipes: RecipeBook, carried: Sequence[Carried], folder: Path) -> list[Carried]:
    """The recipe and its review record (with its last build) of every recipe-built conda
    package in `carried`, once per recipe, in the first channel that carries one."""
    built: dict[str, str] = {}
    for item in carried:
        if item.role == "conda" and item.made_how == "recipe":
            built.setdefault(conda_name(item.path.name), item.channel)
    found: list[Carried] = []
    known = set(recipes.names())
    for name, channel in sorted(built.items()):
        if name not in known:
            continue
        review = record_file(folder, f"{name}.review.json", recipes.review_record(name))
        found.append(Carried(recipes.get(name).path, "recipe", channel, subject=name))
        found.append(Carried(review, "review", channel, subject=name))
    return found


def conda_name(filename: str) -> str:
    """The package name of a conda file name (`name-version-build.conda`)."""
    stem = filename.removesuffix(".conda").removesuffix(".tar.bz2")
    return stem.rsplit("-", 2)[0]


def _write(
    out: Path,
    channels: Channels,
    selections: Sequence[Selection],
    private_key: Ed25519PrivateKey,
    chunk_size: int,
    since: Receipt | None,
    carried: Sequence[Carried],
    missing: Collection[str],
    created: dt.datetime | None,
    kind: str = "channels",
) -> Manifest:
    settings = tuple(
        ChannelSettings(
            s.channel,
            description=channels.describe(s.channel),
            mutability=channels.mutability(s.channel).value,
        )
        for s in selections
    )
    writer = ChunkWriter(out, chunk_size)
    files: list[BundleFile] = []
    for item in carried:
        if since is not None and since.holds_file(item.channel, item.path.name, item.sha256):
            continue
        chunk, offset, size, sha256 = writer.add(item.path)
        files.append(
            BundleFile(
                item.role,
                item.channel,
                item.path.name,
                sha256,
                size,
                chunk,
                offset,
                subdir=item.subdir,
                made_how=item.made_how,
                made_from=item.made_from,
                subject=item.subject,
                uploaded=item.uploaded,
                uploaded_by=item.uploaded_by,
            )
        )
    manifest = Manifest(
        key=signing.key_id(private_key.public_key()),
        created=(created or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        chunk_size=chunk_size,
        channels=settings,
        chunks=tuple(writer.close()),
        files=tuple(files),
        missing=tuple(missing),
        kind=kind,
    )
    data = canonical(manifest.to_document())
    (out / SIGNATURE_NAME).write_bytes(signing.sign(private_key, data))
    _write_atomic(out / MANIFEST_NAME, data)
    return manifest


def timestamp(moment: dt.datetime) -> str:
    """A database time as the manifest writes it: ISO 8601 in UTC, to the microsecond."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat()


def record_file(folder: Path, name: str, document: dict[str, Any]) -> Path:
    """A JSON record (a review, a build record) as a file to carry, in `folder`."""
    path = folder / name
    path.write_text(json.dumps(document, sort_keys=True, indent=1) + "\n", "utf-8")
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    fd, name = tempfile.mkstemp(prefix=".manifest-", dir=path.parent)
    with open(fd, "wb") as handle:
        handle.write(data)
    os.chmod(name, 0o644)  # mkstemp's 0600 would keep the manifest from other readers
    Path(name).replace(path)


def scratch(root: Path) -> Path:
    """A private scratch folder under `root` for records made for one export."""
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".export-", dir=root))


def remove_scratch(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Pinned:
    """One project of a plan's closure: the wheels its targets pin, its conda name."""

    project: str
    conda_name: str
    version: str
    wheels: tuple[str, ...]
    needs_recipe: bool = False


def closure_selection(
    channels: Channels, channel: str, closure: Sequence[Pinned]
) -> tuple[Selection, list[str]]:
    """The files of `channel` a closure needs (the pinned wheels, the conda packages made
    from them, a recipe build's packages) and, for each one the channel lacks, what is
    missing and the command that bridges it: the export carries only what is there."""
    held = {
        row.filename
        for p in channels.projects(channel)
        for row in channels.project_files(channel, p, missing_ok=True)
    }
    packages = channels.conda_packages(channel)
    wanted: set[str] = set()
    missing: list[str] = []
    for pinned in closure:
        absent = [name for name in pinned.wheels if name not in held]
        wanted |= {name for name in pinned.wheels if name in held}
        made = [
            row.filename
            for row in packages
            if row.made_from in pinned.wheels
            or (row.made_how == "recipe" and row.name == pinned.conda_name)
        ]
        wanted |= set(made)
        if absent or (
            pinned.needs_recipe
            and not any(r.made_how == "recipe" for r in packages if r.name == pinned.conda_name)
        ):
            what = ", ".join(absent) or "a recipe build"
            missing.append(
                f"{pinned.project} {pinned.version}: {what} not in channel {channel!r}; run "
                f"`drawbridge bridge --channel {channel} '{pinned.project}=={pinned.version}'`"
            )
    return Selection(channel, frozenset(wanted)), missing
