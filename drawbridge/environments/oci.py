"""Write an OCI image archive (`oci-archive:` for skopeo, podman and containerd) without an engine.

The installed environment becomes one gzip layer; with a base image (an OCI archive, e.g.
a slim Debian copied in from the company registry with skopeo) it is added on top of the
base's layers. Every tar entry has a fixed owner and time, in sorted order, so the same
files give the same layer digest.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import io
import json
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TYPE_CHECKING

from drawbridge.environments.errors import ImageError
from drawbridge.environments.parallel_gzip import ByteSink, ParallelGzipWriter

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

MANIFEST_TYPE = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPE = "application/vnd.oci.image.index.v1+json"
CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
LAYER_TYPE = "application/vnd.oci.image.layer.v1.tar+gzip"
#: conda subdir → OCI architecture
ARCHITECTURES = {"linux-64": "amd64", "linux-aarch64": "arm64"}
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def source_date_epoch() -> int:
    """The time stamped on everything: $SOURCE_DATE_EPOCH, else the Unix epoch."""
    return int(os.environ.get("SOURCE_DATE_EPOCH", "0"))


@dataclass(frozen=True)
class Blob:
    """A content-addressed file of the image and its descriptor."""

    digest: str  # "sha256:<hex>"
    size: int
    media_type: str
    path: Path

    def descriptor(self, **extra: object) -> dict[str, Any]:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size, **extra}


@dataclass
class BaseImage:
    """What a base image contributes: its layers (blobs) and its configuration."""

    layers: list[Blob] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict[str, Any])


class _HashingWriter(io.RawIOBase):
    """Pass bytes through to `target`, hashing and counting them on the way."""

    def __init__(self, target: ByteSink) -> None:
        self.target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, data: ReadableBuffer) -> int:
        size = memoryview(data).nbytes
        self.sha256.update(data)
        self.size += size
        self.target.write(data)
        return size


def _tar_info(path: Path, name: str, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    status = path.lstat()
    info.mode = stat.S_IMODE(status.st_mode)
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if stat.S_ISLNK(status.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(path)
    elif stat.S_ISDIR(status.st_mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISREG(status.st_mode):
        info.size = status.st_size
    else:
        raise ImageError(
            f"{path} is neither a file, a folder nor a symlink; it cannot go into an image"
        )
    return info


def _add_entry(tar: tarfile.TarFile, path: Path, info: tarfile.TarInfo) -> None:
    """Add `info` to `tar`, with `path`'s bytes when it is a regular file."""
    if info.isreg():
        with path.open("rb") as data:
            tar.addfile(info, data)
    else:
        tar.addfile(info)


def _blob_json(blobs: Path, digest: str) -> dict[str, Any]:
    """A JSON blob (index, manifest, config) by its `sha256:<hex>` digest."""
    document: dict[str, Any] = json.loads((blobs / digest.split(":", 1)[1]).read_text())
    return document


def write_layer(source: Path, under: str, blobs: Path) -> tuple[Blob, str]:
    """Tar `source` as `/under/...` into a gzip layer blob; return it and its diff_id."""
    mtime = source_date_epoch()
    under = under.strip("/")
    handle, partial_name = tempfile.mkstemp(dir=blobs, prefix=".layer-")
    partial = Path(partial_name)
    with os.fdopen(handle, "wb") as raw:
        compressed = _HashingWriter(raw)
        with ParallelGzipWriter(compressed, level=6) as gz:
            plain = _HashingWriter(gz)
            with tarfile.open(fileobj=plain, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                parts = under.split("/")
                for depth in range(1, len(parts)):
                    info = tarfile.TarInfo("/".join(parts[:depth]))
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
                    tar.addfile(info)
                tar.addfile(_tar_info(source, under, mtime))
                for path in sorted(
                    source.rglob("*"), key=lambda p: p.relative_to(source).as_posix()
                ):
                    _add_entry(
                        tar,
                        path,
                        _tar_info(path, f"{under}/{path.relative_to(source).as_posix()}", mtime),
                    )
    digest = compressed.sha256.hexdigest()
    target = blobs / digest
    os.replace(partial, target)
    return Blob(
        f"sha256:{digest}", compressed.size, LAYER_TYPE, target
    ), f"sha256:{plain.sha256.hexdigest()}"


def write_json_blob(document: dict[str, Any], media_type: str, blobs: Path) -> Blob:
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return Blob(f"sha256:{digest}", len(data), media_type, blobs / digest)


def read_base_image(archive: Path, architecture: str, blobs: Path) -> BaseImage:
    """Unpack an OCI archive's blobs into `blobs`; return the manifest for `architecture`."""
    index: dict[str, Any] | None = None
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if member.isfile() and len(parts) >= 3 and parts[-3:-1] == ("blobs", "sha256"):
                    source = tar.extractfile(member)
                    assert source is not None
                    with source, (blobs / parts[-1]).open("wb") as out:
                        shutil.copyfileobj(source, out)
                elif member.isfile() and member.name.lstrip("./") == "index.json":
                    source = tar.extractfile(member)
                    assert source is not None  # a regular file always has its bytes
                    with source:
                        index = json.load(source)
    except (OSError, tarfile.TarError) as error:
        raise ImageError(f"cannot read base image {archive}: {error}") from None
    if index is None:
        raise ImageError(
            f"{archive} is not an OCI image archive (no index.json); make one with `skopeo copy "
            f"... oci-archive:{archive.name}`"
        )
    manifest = _pick_manifest(archive, index, architecture, blobs)
    config = _blob_json(blobs, manifest["config"]["digest"])
    layers = []
    for layer in manifest["layers"]:
        path = blobs / layer["digest"].split(":", 1)[1]
        if (
            not path.is_file()
            or hashlib.sha256(path.read_bytes()).hexdigest() != layer["digest"].split(":", 1)[1]
        ):
            raise ImageError(
                f"{archive}: layer {layer['digest']} is missing or does not match its digest"
            )
        layers.append(Blob(layer["digest"], layer["size"], layer["mediaType"], path))
    return BaseImage(layers=layers, config=config)


def _pick_manifest(
    archive: Path, index: dict[str, Any], architecture: str, blobs: Path
) -> dict[str, Any]:
    """Follow an index (or nested indexes) to the manifest of `architecture` on Linux."""
    for entry in index.get("manifests", []):
        document = _blob_json(blobs, entry["digest"])
        if entry.get("mediaType") == INDEX_TYPE or "manifests" in document:
            try:
                return _pick_manifest(archive, document, architecture, blobs)
            except ImageError:
                continue
        platform = entry.get("platform")
        if platform and (platform.get("os"), platform.get("architecture")) != (
            "linux",
            architecture,
        ):
            continue
        if (
            _blob_json(blobs, document["config"]["digest"]).get("architecture", architecture)
            == architecture
        ):
            return document
    raise ImageError(f"{archive} has no linux/{architecture} image")


@dataclass(frozen=True)
class ImageRequest:
    """What to put in the image and how to start it."""

    environment: Path  # the installed environment on this machine
    prefix_in_image: str  # where it lives inside the image
    platform: str
    reference: str = "latest"
    base: Path | None = None
    labels: dict[str, str] = field(default_factory=dict)


def image_config(base: BaseImage, request: ImageRequest, diff_id: str) -> dict[str, Any]:
    """The base's configuration with the environment's layer and settings added."""
    config = copy.deepcopy(base.config)
    created = _timestamp()
    config.update(architecture=ARCHITECTURES[request.platform], os="linux", created=created)
    runtime = config.setdefault("config", {})
    env = [e for e in runtime.get("Env") or [] if not e.startswith(("PATH=", "CONDA_PREFIX="))]
    base_path = next(
        (e[5:] for e in runtime.get("Env") or [] if e.startswith("PATH=")), DEFAULT_PATH
    )
    runtime["Env"] = [
        f"PATH={request.prefix_in_image}/bin:{base_path}",
        f"CONDA_PREFIX={request.prefix_in_image}",
        *env,
    ]
    runtime["Cmd"] = [f"{request.prefix_in_image}/bin/python"]
    runtime["Labels"] = {**(runtime.get("Labels") or {}), **request.labels}
    rootfs = config.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs["diff_ids"] = [*rootfs.get("diff_ids", []), diff_id]
    history = config.setdefault("history", [])
    history.append(
        {
            "created": created,
            "created_by": f"drawbridge image: environment at {request.prefix_in_image}",
        }
    )
    return config


def _timestamp() -> str:
    return dt.datetime.fromtimestamp(source_date_epoch(), dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def write_image(request: ImageRequest, output: Path) -> str:
    """Write the OCI archive atomically; return the manifest digest."""
    if request.platform not in ARCHITECTURES:
        raise ImageError(
            f"images are Linux images; {request.platform} is not one of {', '.join(ARCHITECTURES)}"
        )
    with tempfile.TemporaryDirectory(prefix="drawbridge-image-", dir=output.parent) as scratch:
        layout = Path(scratch) / "layout"
        blobs = layout / "blobs" / "sha256"
        blobs.mkdir(parents=True)
        architecture = ARCHITECTURES[request.platform]
        base = read_base_image(request.base, architecture, blobs) if request.base else BaseImage()
        layer, diff_id = write_layer(request.environment, request.prefix_in_image, blobs)
        config = write_json_blob(image_config(base, request, diff_id), CONFIG_TYPE, blobs)
        manifest = write_json_blob(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": config.descriptor(),
                "layers": [blob.descriptor() for blob in [*base.layers, layer]],
                "annotations": {"org.opencontainers.image.created": _timestamp()},
            },
            MANIFEST_TYPE,
            blobs,
        )
        used = {blob.digest.split(":", 1)[1] for blob in [*base.layers, layer, config, manifest]}
        for unused in [p for p in blobs.iterdir() if p.name not in used]:
            unused.unlink()
        index = {
            "schemaVersion": 2,
            "mediaType": INDEX_TYPE,
            "manifests": [
                manifest.descriptor(
                    annotations={"org.opencontainers.image.ref.name": request.reference},
                    platform={"architecture": architecture, "os": "linux"},
                )
            ],
        }
        (layout / "index.json").write_text(json.dumps(index, sort_keys=True), "utf-8")
        (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}), "utf-8")
        partial = Path(scratch) / "image.tar"
        _tar_layout(layout, partial)
        os.replace(partial, output)
    return manifest.digest


def _tar_layout(layout: Path, target: Path) -> None:
    mtime = source_date_epoch()
    with tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(layout.rglob("*")):
            info = _tar_info(path, path.relative_to(layout).as_posix(), mtime)
            info.mode = 0o755 if info.isdir() else 0o644
            _add_entry(tar, path, info)
