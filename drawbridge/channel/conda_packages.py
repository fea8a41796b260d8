"""Inspect a conda package (.conda or .tar.bz2): safe members and an honest info/index.json."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import zstandard

from drawbridge.channel.archives import check_member_name, check_tar_members
from drawbridge.channel.errors import InvalidDistribution

CONDA_SUFFIXES = (".conda", ".tar.bz2")
KNOWN_SUBDIRS = frozenset(
    {
        "noarch",
        "linux-32", "linux-64", "linux-aarch64", "linux-armv6l", "linux-armv7l",
        "linux-ppc64le", "linux-ppc64", "linux-s390x", "linux-riscv64",
        "osx-64", "osx-arm64",
        "win-32", "win-64", "win-arm64",
        "emscripten-wasm32", "wasi-wasm32", "zos-z",
    }
)  # fmt: skip


@dataclass(frozen=True)
class CondaPackageInfo:
    """What a channel needs to know about a conda package file."""

    filename: str
    name: str
    version: str
    build: str
    subdir: str


def is_conda_package(filename: str) -> bool:
    return filename.endswith(CONDA_SUFFIXES)


def conda_stem(filename: str) -> str:
    for suffix in CONDA_SUFFIXES:
        if filename.endswith(suffix):
            return filename[: -len(suffix)]
    raise InvalidDistribution(f"{filename}: not a conda package (expected .conda or .tar.bz2)")


def inspect_conda_package(path: Path, filename: str | None = None) -> CondaPackageInfo:
    """Check the conda package at `path` (named `filename`) and return its identity."""
    filename = filename or path.name
    stem = conda_stem(filename)
    if filename.endswith(".conda"):
        index = _read_conda_v2(path, filename, stem)
    else:
        index = _read_tar_bz2(path, filename)
    return _identity_from_index(filename, stem, index)


def _identity_from_index(filename: str, stem: str, index: dict) -> CondaPackageInfo:
    missing = [key for key in ("name", "version", "build", "subdir") if not index.get(key)]
    if missing:
        raise InvalidDistribution(f"{filename}: info/index.json lacks {', '.join(missing)}")
    name, version, build = str(index["name"]), str(index["version"]), str(index["build"])
    if f"{name}-{version}-{build}" != stem:
        raise InvalidDistribution(
            f"{filename}: info/index.json says {name}-{version}-{build}, "
            "which is not the file's name; rename the file or rebuild the package"
        )
    subdir = str(index["subdir"])
    if subdir not in KNOWN_SUBDIRS:
        raise InvalidDistribution(f"{filename}: unknown subdir {subdir!r} in info/index.json")
    return CondaPackageInfo(filename=filename, name=name, version=version, build=build, subdir=subdir)


def _parse_index_json(filename: str, raw: bytes | None) -> dict:
    if raw is None:
        raise InvalidDistribution(f"{filename}: info/index.json is missing")
    try:
        index = json.loads(raw)
    except ValueError as error:
        raise InvalidDistribution(f"{filename}: info/index.json is not JSON ({error})") from error
    if not isinstance(index, dict):
        raise InvalidDistribution(f"{filename}: info/index.json is not a JSON object")
    return index


def _scan_tar(filename: str, tf: tarfile.TarFile) -> bytes | None:
    """Check a streamed tar's members; return info/index.json's bytes if it holds one."""
    index_json = None
    for member in tf:
        check_tar_members(filename, [member])
        if member.name.lstrip("./") == "info/index.json" and member.isfile():
            handle = tf.extractfile(member)
            index_json = handle.read() if handle else None
    return index_json


def _read_tar_bz2(path: Path, filename: str) -> dict:
    try:
        with tarfile.open(path, "r|bz2") as tf:
            return _parse_index_json(filename, _scan_tar(filename, tf))
    except (tarfile.TarError, EOFError, OSError) as error:
        raise InvalidDistribution(f"{filename}: corrupt tar.bz2 archive ({error})") from error


def _read_conda_v2(path: Path, filename: str, stem: str) -> dict:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            for name in names:
                check_member_name(filename, name)
            expected = {f"info-{stem}.tar.zst", f"pkg-{stem}.tar.zst"}
            if not expected <= set(names):
                raise InvalidDistribution(
                    f"{filename}: a .conda must hold {sorted(expected)}; it holds {names}"
                )
            index_json = _scan_zst_tar(filename, zf.read(f"info-{stem}.tar.zst"))
            _scan_zst_tar(filename, zf.read(f"pkg-{stem}.tar.zst"))
    except zipfile.BadZipFile as error:
        raise InvalidDistribution(f"{filename}: corrupt .conda archive ({error})") from error
    return _parse_index_json(filename, index_json)


def _scan_zst_tar(filename: str, compressed: bytes) -> bytes | None:
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(compressed))
        with tarfile.open(fileobj=reader, mode="r|") as tf:
            return _scan_tar(filename, tf)
    except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError) as error:
        raise InvalidDistribution(f"{filename}: corrupt inner archive ({error})") from error
