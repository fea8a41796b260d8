"""The inside's side: verify a bundle, stage its files, hold what policy holds, publish the
rest one channel at a time, all or nothing, and write a signed receipt.

Nothing is ever written next to the bundle (it may be read-only media): what an import
has verified lives in `<home>/bundles/imports/<bundle id>/` (`state.json`, the staged
files), so a run that was killed goes on from the first chunk not yet verified. A
refusal (a signature, a chunk, a file) removes that state: the home is as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from drawbridge.bridge.bundles import signing
from drawbridge.bridge.bundles.chunks import read_chunk, staged_path
from drawbridge.bridge.bundles.manifest import (
    MANIFEST_NAME,
    PLAIN_NAME,
    PUBLISHED_ROLES,
    RECEIPT_FORMAT,
    SIGNATURE_NAME,
    BundleFile,
    Manifest,
    Receipt,
    canonical,
    parse_manifest,
    parse_receipt,
)
from drawbridge.bridge.errors import BundleError, BundleRefused
from drawbridge.bridge.policy import holding
from drawbridge.bridge.policy.holding import PolicyGate
from drawbridge.bridge.policy.osv import SNAPSHOT
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.channel.held import HeldFiles
from drawbridge.channel.home import Home
from drawbridge.bridge.records import AuditRow
from drawbridge.channel.distributions import ExpectedDigests, sha256_file
from drawbridge.channel.errors import UnknownChannel
from drawbridge.channel.faults import crash_point
from drawbridge.channel.mutability import Mutability
from drawbridge.channel.service import Channels, Provenance, PublishedFile


@dataclass
class ImportReport:
    """What an import did."""

    bundle_id: str
    key: str
    published: dict[str, list[PublishedFile]] = field(default_factory=dict)
    held: list[tuple[BundleFile, list[str]]] = field(default_factory=list)
    chunks_read: list[int] = field(default_factory=list)
    chunks_skipped: list[int] = field(default_factory=list)  # verified by an earlier run
    bytes_read: int = 0  # of chunk files, by this run
    receipt: Path | None = None
    missing: tuple[str, ...] = ()  # what the exporter said it could not carry


def read_signed_manifest(
    bundle: Path, trusted: Sequence[signing.PublicKey]
) -> tuple[bytes, Manifest]:
    """The manifest's bytes and contents, after its signature was verified."""
    try:
        data = (bundle / MANIFEST_NAME).read_bytes()
        signature = (bundle / SIGNATURE_NAME).read_bytes()
    except FileNotFoundError as error:
        raise BundleRefused(
            f"{Path(error.filename).name} is missing from {bundle}: a bundle folder holds "
            f"{MANIFEST_NAME}, {SIGNATURE_NAME} and chunks/; copy all of it"
        ) from None
    if not trusted:
        raise BundleError(
            "this home trusts no exporter's key: put the exporter's .pub in "
            "<home>/keys/trusted/ or list it in [bundles] trusted_keys"
        )
    signing.verify(data, signature, trusted, f"{bundle / MANIFEST_NAME}")
    return data, parse_manifest(data)


def import_bundle(
    channels: Channels,
    bundle: Path,
    trusted: Sequence[signing.PublicKey],
    signing_key: Ed25519PrivateKey,
    gate: PolicyGate | Callable[[Home], PolicyGate] | None = None,
    held: HeldFiles | None = None,
    receipt_path: Path | None = None,
    actor: str = "bundle",
    recipes: RecipeBook | None = None,
    wanted: Sequence[str] = (),
) -> ImportReport:
    """Import the bundle folder `bundle` into `channels`' home (see the module)."""
    manifest, staging, report = verify_and_stage(channels.home.root, bundle, trusted)
    if manifest.kind != "channels":
        raise BundleError(
            f"{bundle} is a backup of a whole home: it is restored into an empty home only "
            "(`drawbridge init --home NEW`, then `drawbridge bundle import` there)"
        )
    bundle_id = report.bundle_id
    state_dir = staging.parent
    for index, item in enumerate(manifest.files):
        if item.role == "osv":  # the snapshot the outside checked against, newer than ours
            target = channels.home.root / SNAPSHOT
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staged_path(staging, index, item), target)
    if callable(gate):  # made now: it reads the snapshot the bundle may have carried
        gate = gate(channels.home)
    publishable: dict[str, list[tuple[BundleFile, Path]]] = {}
    source = f"bundle {bundle_id} (key {manifest.key})"
    for index, item in enumerate(manifest.files):
        if item.role not in PUBLISHED_ROLES:
            continue
        path = staged_path(staging, index, item)
        verdict = (
            gate.judge(path, item.made_from if item.role == "conda" else "")
            if gate is not None and gate.active
            else None
        )
        if verdict is not None and verdict.reasons:
            report.held.append((item, list(verdict.reasons)))
            if held is not None:
                holding.hold(
                    held, item.channel, path, verdict, source, item.made_how, item.made_from
                )
        else:
            publishable.setdefault(item.channel, []).append((item, path))
    for settings in manifest.channels:
        _ensure_channel(channels, settings.name, settings.description, settings.mutability)
        items = publishable.get(settings.name, [])
        report.published[settings.name] = channels.publish_all(
            settings.name,
            [path for _, path in items],
            uploaded_by=actor,
            provenance={
                path: Provenance(item.made_how, item.made_from)  # type: ignore[arg-type]
                for item, path in items
                if item.role == "conda" and item.made_how
            },
            expected={path: ExpectedDigests(sha256=item.sha256) for item, path in items},
            upload_times={
                path: dt.datetime.fromisoformat(item.uploaded)
                for item, path in items
                if item.uploaded
            },
        )
    if recipes is not None:
        adopt_recipes(recipes, manifest, staging, source)
    keep_provenance(channels.home.root, manifest, staging)
    published = sum(len(files) for files in report.published.values())
    with channels.db.session() as session:
        session.add(
            AuditRow(
                user=actor,
                action="bundle-import",
                subject=bundle_id,
                detail=f"key {manifest.key}; {published} file(s) published, "
                f"{len(report.held)} held",
            )
        )
    report.receipt = write_receipt(channels, signing_key, receipt_path, wanted)
    shutil.rmtree(state_dir, ignore_errors=True)
    return report


def verify_and_stage(
    home_root: Path, bundle: Path, trusted: Sequence[signing.PublicKey]
) -> tuple[Manifest, Path, ImportReport]:
    """Verify the bundle's signature, then every chunk not verified by an earlier run (into
    the staged files), then every staged file: the manifest, the staging folder and the
    report so far. A refusal removes the import's state: the home is as it was."""
    data, manifest = read_signed_manifest(bundle, trusted)
    bundle_id = hashlib.sha256(data).hexdigest()[:16]
    state_dir = home_root / "bundles" / "imports" / bundle_id
    report = ImportReport(bundle_id, manifest.key, missing=manifest.missing)
    try:
        staging = _verify_chunks(bundle, manifest, state_dir, report)
        _check_files(manifest, staging)
    except BundleRefused:
        shutil.rmtree(state_dir, ignore_errors=True)
        _remove_empty_parents(state_dir.parent, home_root)
        raise
    return manifest, staging, report


def keep_provenance(home_root: Path, manifest: Manifest, staging: Path) -> None:
    """Keep each carried PEP 740 provenance document at
    `<home>/provenance/<channel>/<file>.provenance.json` (the file it vouches for)."""
    for index, item in enumerate(manifest.files):
        if item.role == "provenance" and PLAIN_NAME.match(item.subject):
            target = home_root / "provenance" / item.channel / f"{item.subject}.provenance.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(staged_path(staging, index, item), target)


def adopt_recipes(recipes: RecipeBook, manifest: Manifest, staging: Path, source: str) -> None:
    """Keep each carried recipe with its review (`RecipeBook.adopt`)."""
    texts: dict[str, str] = {}
    reviews: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(manifest.files):
        path = staged_path(staging, index, item)
        if item.role == "recipe":
            texts[item.subject] = path.read_text("utf-8")
        elif item.role == "review":
            reviews[item.subject] = json.loads(path.read_text("utf-8"))
    for name in sorted(texts.keys() & reviews.keys()):
        recipes.adopt(texts[name], reviews[name], source)


def _verify_chunks(bundle: Path, manifest: Manifest, state_dir: Path, report: ImportReport) -> Path:
    """Read every chunk not verified by an earlier run into the staged files; the staging
    folder. The state file names each verified chunk once its bytes are on disk."""
    state_file = state_dir / "state.json"
    staging = state_dir / "files"
    staging.mkdir(parents=True, exist_ok=True)
    verified: set[int] = set()
    if state_file.is_file():
        verified = set(json.loads(state_file.read_text("utf-8")).get("verified", []))

    def count(n: int) -> None:
        report.bytes_read += n

    for chunk in manifest.chunks:
        if chunk.id in verified:
            report.chunks_skipped.append(chunk.id)
            continue
        read_chunk(bundle, manifest, chunk, staging, count)
        verified.add(chunk.id)
        report.chunks_read.append(chunk.id)
        _write_json_atomic(state_file, {"verified": sorted(verified)})
        crash_point("bundle-chunk")
    for index, item in enumerate(manifest.files):  # an empty file lies in no chunk
        path = staged_path(staging, index, item)
        if item.size == 0 and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    return staging


def _check_files(manifest: Manifest, staging: Path) -> None:
    """BundleRefused naming the first staged file whose size or sha256 is not the manifest's."""
    for index, item in enumerate(manifest.files):
        path = staged_path(staging, index, item)
        size = path.stat().st_size if path.exists() else -1
        if size != item.size or sha256_file(path) != item.sha256:
            raise BundleRefused(
                f"{item.name} (channel {item.channel!r}) does not match the manifest once "
                "reassembled from the chunks; the bundle is damaged: export it again"
            )


def _ensure_channel(channels: Channels, name: str, description: str, mutability: str) -> None:
    try:
        channels.layout(name)
    except UnknownChannel:
        channels.create(name, description, mutability=Mutability.parse(mutability))


def receipt_document(
    channels: Channels, key: Ed25519PrivateKey, wanted: Sequence[str] = ()
) -> dict[str, Any]:
    """What this home holds (per channel, each file's name and sha256) and the projects it
    wants next (approved requests its upstream could not provide)."""
    held: dict[str, dict[str, str]] = {}
    for channel in channels.names():
        files = held.setdefault(channel, {})
        for project in channels.projects(channel):
            for row in channels.project_files(channel, project, missing_ok=True):
                files[row.filename] = row.sha256
        for package in channels.conda_packages(channel):
            files[package.filename] = package.sha256
    return {
        "format": RECEIPT_FORMAT,
        "key": signing.key_id(key.public_key()),
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "channels": held,
        "wanted": sorted(set(wanted)),
    }


def write_receipt(
    channels: Channels,
    key: Ed25519PrivateKey,
    path: Path | None = None,
    wanted: Sequence[str] = (),
) -> Path:
    """Write the signed receipt (one JSON file: the receipt and its signature) to `path`,
    or `<home>/bundles/receipt.json`; return where."""
    document = receipt_document(channels, key, wanted)
    target = path or channels.home.root / "bundles" / "receipt.json"
    signature = signing.sign(key, canonical(document)).decode()
    _write_json_atomic(target, {"receipt": document, "signature": signature})
    return target


def read_receipt(path: Path, trusted: Sequence[signing.PublicKey]) -> Receipt:
    """A receipt whose signature one of `trusted` made; BundleRefused otherwise."""
    try:
        wrapper = json.loads(path.read_text("utf-8"))
        document, signature = wrapper["receipt"], wrapper["signature"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BundleRefused(f"{path} is not a Drawbridge receipt: {error}") from None
    data = canonical(document)
    signing.verify(data, signature.encode(), trusted, str(path))
    return parse_receipt(data, str(path))


def _write_json_atomic(path: Path, document: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(document, sort_keys=True, indent=1) + "\n", "utf-8")
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    temporary.replace(path)


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
        folder = folder.parent
