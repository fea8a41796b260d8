"""A bundle's manifest and a receipt as data: what they hold, their canonical bytes, checks.

Pure: no file is read here. The signed object is `canonical(document)`: JSON with sorted
keys, no white space, UTF-8, so the same manifest always has the same bytes whoever
writes it.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from drawbridge.bridge.errors import BundleRefused

FORMAT = "drawbridge-bundle/1"
RECEIPT_FORMAT = "drawbridge-receipt/1"
MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "manifest.sig"
#: what a file in a bundle is
#: (`database`, `index` and `home-file` only in a backup of a whole home: `backup`)
Role = Literal[
    "wheel",
    "sdist",
    "conda",
    "recipe",
    "review",
    "build-record",
    "provenance",
    "osv",
    "database",
    "index",
    "home-file",
]
ROLES: tuple[str, ...] = get_args(Role)
#: the roles published into a channel; the others are records that come with them
PUBLISHED_ROLES = ("wheel", "sdist", "conda")
#: a plain file name: no folder, no leading dot, nothing a path could be made of
PLAIN_NAME = re.compile(r"^[A-Za-z0-9_+][A-Za-z0-9._+!-]*$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes that are signed: sorted keys, no white space, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Chunk:
    """One chunk file of the bundle: `chunks/NNNN.bin`."""

    id: int
    sha256: str
    size: int

    @property
    def name(self) -> str:
        return f"chunks/{self.id:04d}.bin"


@dataclass(frozen=True)
class BundleFile:
    """One file carried: where it goes, its digest, and where its bytes are. The bytes
    start in chunk `chunk` at `offset` and run on into the following chunks if needed."""

    role: Role
    channel: str
    name: str  # the file's plain name (a wheel, a .conda, `recipe.yaml` …)
    sha256: str
    size: int
    chunk: int
    offset: int
    subdir: str = ""  # a conda package's subdir
    made_how: str = ""  # a conda package's provenance: "wheel", "recipe", "upload"
    made_from: str = ""
    subject: str = ""  # what a record is about: a recipe's name, a file's name
    uploaded: str = ""  # when the exporter's channel published it (ISO 8601, UTC)
    uploaded_by: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        """What the file is, for a receipt: channel, name, sha256."""
        return (self.channel, self.name, self.sha256)


@dataclass(frozen=True)
class ChannelSettings:
    """What the inside needs to create a channel the bundle publishes into."""

    name: str
    description: str = ""
    mutability: str = "standard"


@dataclass(frozen=True)
class Manifest:
    """Everything a bundle says about itself; signed as `canonical(to_document())`."""

    key: str
    created: str
    chunk_size: int
    channels: tuple[ChannelSettings, ...]
    chunks: tuple[Chunk, ...]
    files: tuple[BundleFile, ...]
    #: what the export was asked for but the outside channel did not hold, with the fix
    missing: tuple[str, ...] = ()
    #: "channels" (published into a home), or "home" (a backup, restored into an empty one)
    kind: str = "channels"
    format: str = FORMAT

    def to_document(self) -> dict[str, Any]:
        document = asdict(self)
        for chunk in document["chunks"]:
            chunk["name"] = f"chunks/{chunk['id']:04d}.bin"
        return document

    @property
    def total_size(self) -> int:
        return sum(chunk.size for chunk in self.chunks)


def parse_manifest(data: bytes) -> Manifest:
    """A manifest from its bytes (already verified as signed); BundleRefused naming the
    first thing that makes it unusable (a bad path, a chunk out of range …)."""
    try:
        document = json.loads(data)
        if document.get("format") != FORMAT:
            raise BundleRefused(
                f"{MANIFEST_NAME}: format {document.get('format')!r} is not {FORMAT!r}; "
                "export it again with this version of Drawbridge"
            )
        chunks = tuple(
            Chunk(int(c["id"]), str(c["sha256"]), int(c["size"])) for c in document["chunks"]
        )
        files = tuple(
            BundleFile(**{k: v for k, v in f.items() if k in BundleFile.__dataclass_fields__})
            for f in document["files"]
        )
        channels = tuple(ChannelSettings(**c) for c in document["channels"])
        manifest = Manifest(
            key=str(document["key"]),
            created=str(document["created"]),
            chunk_size=int(document["chunk_size"]),
            channels=channels,
            chunks=chunks,
            files=files,
            missing=tuple(document.get("missing", ())),
            kind=str(document.get("kind", "channels")),
        )
    except BundleRefused:
        raise
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BundleRefused(f"{MANIFEST_NAME} is not a bundle manifest: {error!r}") from None
    check_manifest(manifest)
    return manifest


def check_manifest(manifest: Manifest) -> None:
    """BundleRefused unless every chunk and file of `manifest` is well-formed and in range."""
    if [c.id for c in manifest.chunks] != list(range(len(manifest.chunks))):
        raise BundleRefused(f"{MANIFEST_NAME}: chunk ids must run 0, 1, 2 … in order")
    for chunk in manifest.chunks:
        if not SHA256.match(chunk.sha256) or chunk.size < 0:
            raise BundleRefused(f"{MANIFEST_NAME}: {chunk.name} has a malformed sha256 or size")
    if manifest.kind not in ("channels", "home"):
        raise BundleRefused(f"{MANIFEST_NAME}: kind {manifest.kind!r} is not channels or home")
    channels = {c.name for c in manifest.channels} | {""}  # "": a file of the home
    for item in manifest.files:
        where = f"{MANIFEST_NAME}: file {item.name!r}"
        if item.role not in ROLES:
            raise BundleRefused(f"{where} has the unknown role {item.role!r}; known: {ROLES}")
        if not PLAIN_NAME.match(item.name) or not SHA256.match(item.sha256):
            raise BundleRefused(f"{where} is not a plain file name with a sha256")
        if item.channel not in channels:
            raise BundleRefused(f"{where} names channel {item.channel!r}, not in the manifest")
        end = stream_offset(manifest, item) + item.size
        if not 0 <= item.chunk < max(len(manifest.chunks), 1) or end > manifest.total_size:
            raise BundleRefused(f"{where} lies outside the bundle's chunks")


def stream_offset(manifest: Manifest, item: BundleFile) -> int:
    """Where `item`'s bytes start in the chunks read one after the other."""
    return sum(c.size for c in manifest.chunks[: item.chunk]) + item.offset


@dataclass(frozen=True)
class Receipt:
    """What an inside server holds, per channel (file name → sha256), signed by its key."""

    key: str
    created: str
    channels: dict[str, dict[str, str]] = field(default_factory=dict)
    #: projects the inside wants in the next bundle (requests it could not bridge itself)
    wanted: tuple[str, ...] = ()
    format: str = RECEIPT_FORMAT

    def holds_file(self, channel: str, name: str, sha256: str) -> bool:
        """True if the inside holds `name` in `channel` with these bytes."""
        return bool(sha256) and self.channels.get(channel, {}).get(name) == sha256


def parse_receipt(data: bytes, where: str) -> Receipt:
    try:
        document = json.loads(data)
        if document.get("format") != RECEIPT_FORMAT:
            raise ValueError(f"format {document.get('format')!r} is not {RECEIPT_FORMAT!r}")
        channels = {
            str(channel): {str(name): str(sha) for name, sha in files.items()}
            for channel, files in document["channels"].items()
        }
        wanted = tuple(str(name) for name in document.get("wanted", ()))
        return Receipt(str(document["key"]), str(document["created"]), channels, wanted)
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BundleRefused(f"{where} is not a Drawbridge receipt: {error}") from None
