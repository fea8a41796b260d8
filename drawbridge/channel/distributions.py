"""Inspect a wheel or sdist: check it is well-formed and honest, and read its core metadata.

Reads are bounded (`limits`): METADATA and PKG-INFO are refused over `MAX_CORE_METADATA`
before they are inflated, and archives are streamed against an inflation budget.
"""

from __future__ import annotations

import gzip
import hashlib
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.metadata import parse_email
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from drawbridge.channel.archives import ZIP_READ_ERRORS, check_tar_members, check_zip_members
from drawbridge.channel.errors import InvalidDistribution
from drawbridge.channel.kinds import PackageType
from drawbridge.channel.limits import (
    MAX_CORE_METADATA,
    InflationGuard,
    inflation_budget,
    open_tar_stream,
    open_zip,
    read_member,
    scan_members,
)

SDIST_SUFFIXES = (".tar.gz", ".zip")


@dataclass(frozen=True)
class FileDigests:
    """The digests PyPI publishes for a file."""

    sha256: str
    md5: str
    blake2b_256: str
    size: int


@dataclass(frozen=True)
class DistributionInfo:
    """What the indexes need to know about a wheel or sdist."""

    filename: str
    project: NormalizedName
    display_name: str
    version: str
    packagetype: PackageType
    python_version: str
    requires_python: str | None
    core_metadata: dict[str, Any]  # parsed fields, JSON-compatible
    metadata_bytes: bytes | None  # the METADATA file for PEP 658; None for sdists


@dataclass(frozen=True)
class ExpectedDigests:
    """Digests a client claims for an upload; each one given must match."""

    sha256: str | None = None
    md5: str | None = None
    blake2b_256: str | None = None

    def check(self, filename: str, actual: FileDigests) -> None:
        for algorithm in ("sha256", "md5", "blake2b_256"):
            claimed = getattr(self, algorithm)
            if claimed and claimed.lower() != getattr(actual, algorithm):
                raise InvalidDistribution(
                    f"{filename}: the {algorithm} digest sent ({claimed}) does not match the "
                    f"file received ({getattr(actual, algorithm)}); the upload was damaged"
                )


def digest_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in chunks (for when the other digests are not wanted)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def digest_file(path: Path) -> FileDigests:
    """sha256, md5 and blake2b-256 of a file in one read."""
    sha256, md5, blake2 = hashlib.sha256(), hashlib.md5(), hashlib.blake2b(digest_size=32)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            size += len(chunk)
            sha256.update(chunk)
            md5.update(chunk)
            blake2.update(chunk)
    return FileDigests(sha256.hexdigest(), md5.hexdigest(), blake2.hexdigest(), size)


def is_python_distribution(filename: str) -> bool:
    return filename.endswith(".whl") or filename.endswith(SDIST_SUFFIXES)


def inspect_distribution(path: Path, filename: str | None = None) -> DistributionInfo:
    """Check the wheel or sdist at `path` (named `filename`) and return its metadata."""
    filename = filename or path.name
    if filename.endswith(".whl"):
        return _inspect_wheel(path, filename)
    if filename.endswith(SDIST_SUFFIXES):
        return _inspect_sdist(path, filename)
    raise InvalidDistribution(
        f"{filename}: not a Python distribution (expected .whl, .tar.gz or .zip)"
    )


def _metadata_fields(filename: str, raw: bytes, name: str, version: Version) -> dict[str, Any]:
    fields, _unparsed = parse_email(raw)
    declared_name = fields.get("name")
    declared_version = fields.get("version")
    if not declared_name or not declared_version:
        raise InvalidDistribution(f"{filename}: core metadata lacks Name or Version")
    if canonicalize_name(declared_name) != canonicalize_name(name):
        raise InvalidDistribution(
            f"{filename}: the filename says project {name!r} but its metadata says "
            f"{declared_name!r}; rebuild the distribution so they agree"
        )
    try:
        same_version = Version(declared_version) == version
    except InvalidVersion:
        same_version = False
    if not same_version:
        raise InvalidDistribution(
            f"{filename}: the filename says version {version} but its metadata says "
            f"{declared_version!r}; rebuild the distribution so they agree"
        )
    requires_python = fields.get("requires_python")
    if requires_python is not None:
        try:
            SpecifierSet(requires_python)
        except InvalidSpecifier as error:
            raise InvalidDistribution(
                f"{filename}: its Requires-Python {requires_python!r} is not a valid version "
                f"specifier ({error}); PyPI refuses it and installers cannot apply it: fix "
                "the metadata and build it again"
            ) from error
    return dict(fields)


def _check_project_name(filename: str, name: str) -> NormalizedName:
    try:
        return canonicalize_name(name, validate=True)
    except Exception as error:  # packaging.utils.InvalidName (packaging >= 24)
        raise InvalidDistribution(
            f"{filename}: {name!r} is not a valid PEP 508 project name"
        ) from error


def read_wheel_metadata(path: Path, filename: str | None = None) -> bytes:
    """The METADATA of a wheel: the one in the `.dist-info` its filename names, after the
    archive's members are checked; InvalidDistribution saying what is wrong otherwise."""
    filename = filename or path.name
    try:
        _name, version, _build, _tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion) as error:
        raise InvalidDistribution(f"{filename}: invalid wheel filename ({error})") from error
    project = _check_project_name(filename, filename.split("-")[0])
    try:
        with open_zip(path, filename) as zf:
            check_zip_members(filename, zf)
            return _read_zip_member(
                filename, zf, _find_wheel_metadata(filename, zf, project, version)
            )
    except ZIP_READ_ERRORS as error:
        raise InvalidDistribution(f"{filename}: corrupt zip archive ({error})") from error


def _read_zip_member(filename: str, zf: zipfile.ZipFile, name: str) -> bytes:
    """One core-metadata file of a zip, refused before inflating if it declares too much."""
    info = zf.getinfo(name)
    with zf.open(info) as handle:
        return read_member(filename, name, handle, info.file_size, MAX_CORE_METADATA)


def _inspect_wheel(path: Path, filename: str) -> DistributionInfo:
    raw = read_wheel_metadata(path, filename)
    name, version, _build, tags = parse_wheel_filename(filename)
    project = canonicalize_name(filename.split("-")[0])
    fields = _metadata_fields(filename, raw, name, version)
    return DistributionInfo(
        filename=filename,
        project=project,
        display_name=fields["name"],
        version=str(version),
        packagetype="bdist_wheel",
        python_version=".".join(sorted({tag.interpreter for tag in tags})),
        requires_python=fields.get("requires_python"),
        core_metadata=fields,
        metadata_bytes=raw,
    )


def _find_wheel_metadata(filename: str, zf: zipfile.ZipFile, project: str, version: Version) -> str:
    """The METADATA of the wheel's one .dist-info directory, which must be the project's
    and version's; more than one such directory is refused, as pip and installer do."""
    dist_infos = sorted(
        {top for name in zf.namelist() if (top := name.split("/", 1)[0]).endswith(".dist-info")}
    )
    if len(dist_infos) > 1:
        raise InvalidDistribution(
            f"{filename}: {len(dist_infos)} .dist-info directories ({', '.join(dist_infos)}); "
            "a wheel has exactly one, and pip and installer refuse it: build it again"
        )
    candidates = [
        entry
        for entry in zf.namelist()
        if entry.count("/") == 1 and entry.endswith(".dist-info/METADATA")
    ]
    for entry in candidates:
        stem = entry.split("/")[0][: -len(".dist-info")]
        dist_name, _, dist_version = stem.rpartition("-")
        if canonicalize_name(dist_name) == project and _same_version(dist_version, version):
            return entry
    found = ", ".join(candidates) or "none"
    raise InvalidDistribution(
        f"{filename}: no {project}-{version}.dist-info/METADATA in the wheel (found: {found}); "
        "the filename and the wheel's contents disagree"
    )


def _same_version(text: str, version: Version) -> bool:
    try:
        return canonicalize_version(text) == canonicalize_version(version)
    except InvalidVersion:
        return False


def _inspect_sdist(path: Path, filename: str) -> DistributionInfo:
    try:
        name, version = parse_sdist_filename(filename)
    except (InvalidSdistFilename, InvalidVersion) as error:
        raise InvalidDistribution(f"{filename}: invalid sdist filename ({error})") from error
    stem = filename[: -len(".tar.gz")] if filename.endswith(".tar.gz") else filename[:-4]
    project = _check_project_name(filename, stem.rpartition("-")[0])
    raw = _read_sdist_pkg_info(path, filename)
    fields = _metadata_fields(filename, raw, name, version)
    return DistributionInfo(
        filename=filename,
        project=project,
        display_name=fields["name"],
        version=str(version),
        packagetype="sdist",
        python_version="source",
        requires_python=fields.get("requires_python"),
        core_metadata=fields,
        metadata_bytes=None,
    )


def _read_sdist_pkg_info(path: Path, filename: str) -> bytes:
    if filename.endswith(".zip"):
        try:
            with open_zip(path, filename) as zf:
                check_zip_members(filename, zf)
                return _read_zip_member(filename, zf, _top_level_pkg_info(filename, zf.namelist()))
        except ZIP_READ_ERRORS as error:
            raise InvalidDistribution(f"{filename}: corrupt zip archive ({error})") from error
    try:
        with gzip.open(path, "rb") as raw:
            guard = InflationGuard(raw, filename, inflation_budget(path.stat().st_size))
            with open_tar_stream(guard, filename) as tf:
                return _scan_sdist_tar(filename, tf)
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise InvalidDistribution(f"{filename}: corrupt tar.gz archive ({error})") from error


def _scan_sdist_tar(filename: str, tf: tarfile.TarFile) -> bytes:
    """Check every member of a streamed sdist; return its top-level PKG-INFO (the first)."""
    pkg_info = None
    for member in scan_members(tf, filename):
        check_tar_members(filename, [member])
        if pkg_info is None and member.isfile() and _is_top_level_pkg_info(member.name):
            pkg_info = read_member(
                filename, member.name, tf.extractfile(member), member.size, MAX_CORE_METADATA
            )
    if pkg_info is None:
        raise InvalidDistribution(f"{filename}: no PKG-INFO at the top of the sdist")
    return pkg_info


def _is_top_level_pkg_info(name: str) -> bool:
    parts = name.strip("/").split("/")
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def _top_level_pkg_info(filename: str, names: list[str]) -> str:
    for name in names:
        if _is_top_level_pkg_info(name):
            return name
    raise InvalidDistribution(f"{filename}: no PKG-INFO at the top of the sdist")
