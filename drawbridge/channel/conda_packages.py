"""Inspect a conda package (.conda or .tar.bz2): safe members, bounded reads, and an honest
info/index.json whose name, version and build rattler parses as conda clients do.

The whole archive is streamed once through `limits.InflationGuard`; only info/index.json
is read into memory. What rattler's indexer itself would refuse is found by
`conda_index.check_with_indexer`, which publishing runs after this.
"""

from __future__ import annotations

import bz2
import json
import re
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zstandard
from rattler import PackageName, Version
from rattler.package import BuildString

from drawbridge.channel import limits
from drawbridge.channel.archives import ZIP_READ_ERRORS, check_tar_members, check_zip_entries
from drawbridge.channel.errors import InvalidDistribution

CONDA_SUFFIXES = (".conda", ".tar.bz2")
KNOWN_SUBDIRS = frozenset(
    {
        "noarch",
        "linux-32",
        "linux-64",
        "linux-aarch64",
        "linux-armv6l",
        "linux-armv7l",
        "linux-ppc64le",
        "linux-ppc64",
        "linux-s390x",
        "linux-riscv64",
        "osx-64",
        "osx-arm64",
        "win-32",
        "win-64",
        "win-arm64",
        "emscripten-wasm32",
        "wasi-wasm32",
        "zos-z",
    }
)


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
    guard_budget = limits.inflation_budget(path.stat().st_size)
    if filename.endswith(".conda"):
        index = _read_conda_v2(path, filename, stem, guard_budget)
    else:
        index = _read_tar_bz2(path, filename, guard_budget)
    return _identity_from_index(filename, stem, index)


def read_index(path: Path, filename: str | None = None) -> dict[str, Any]:
    """The package's info/index.json (with its `license`, which the identity leaves out),
    read under the same inflation guard as `inspect_conda_package`."""
    filename = filename or path.name
    guard_budget = limits.inflation_budget(path.stat().st_size)
    if filename.endswith(".conda"):
        return _read_conda_v2(path, filename, conda_stem(filename), guard_budget)
    return _read_tar_bz2(path, filename, guard_budget)


def _identity_from_index(filename: str, stem: str, index: dict[str, Any]) -> CondaPackageInfo:
    missing = [key for key in ("name", "version", "build", "subdir") if not index.get(key)]
    if missing:
        raise InvalidDistribution(f"{filename}: info/index.json lacks {', '.join(missing)}")
    name, version, build = str(index["name"]), str(index["version"]), str(index["build"])
    _check_conda_identity(filename, name, version, build)
    if f"{name}-{version}-{build}" != stem:
        raise InvalidDistribution(
            f"{filename}: info/index.json says {name}-{version}-{build}, "
            "which is not the file's name; rename the file or rebuild the package"
        )
    subdir = str(index["subdir"])
    if subdir not in KNOWN_SUBDIRS:
        raise InvalidDistribution(f"{filename}: unknown subdir {subdir!r} in info/index.json")
    return CondaPackageInfo(
        filename=filename, name=name, version=version, build=build, subdir=subdir
    )


#: a distributable package's name (CEP 26): lowercase ASCII letters, digits and `-._`, no
#: two separators in a row, starting with a letter, a digit or one underscore
CONDA_NAME = re.compile(r"^(([a-z0-9])|([a-z0-9_](?!_)))[._-]?([a-z0-9]+(\.|-|_|$))*$")
#: CEP 26's longest package name
MAX_CONDA_NAME = 64


def _check_conda_identity(filename: str, name: str, version: str, build: str) -> None:
    """Parse name, version and build as rattler (and so conda's solvers) parse them, and
    hold the name to conda's rules (CEP 26), which rattler applies only in part: it parses
    `BadUpper` (as `badupper`) and lets rattler-build make it."""
    for what, value, parse in (
        ("package name", name, PackageName),
        ("version", version, Version),
        ("build string", build, BuildString),
    ):
        try:
            parse(value)
        except Exception as error:  # rattler raises its own exception types, and ValueError
            raise InvalidDistribution(
                f"{filename}: info/index.json has {what} {value!r}, which conda clients cannot "
                f"parse ({error})"
            ) from error
    if not CONDA_NAME.match(name) or len(name) > MAX_CONDA_NAME:
        lowered = f" (`{name.lower()}`?)" if name != name.lower() else ""
        raise InvalidDistribution(
            f"{filename}: info/index.json has package name {name!r}, which conda's rules "
            f"(CEP 26) refuse: at most {MAX_CONDA_NAME} lowercase ASCII letters, digits, "
            f"'-', '.' and '_', no two of those three in a row, starting with a letter, a "
            f"digit or one '_'; rebuild it with a valid name{lowered}"
        )


def _parse_index_json(filename: str, raw: bytes | None) -> dict[str, Any]:
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
    """Check a streamed tar's members; return info/index.json's bytes if it holds one.

    info/index.json is read up to `MAX_INDEX_JSON`; other info/ files, which clients load
    whole, may not declare more than `MAX_INFO_MEMBER`; nothing else is kept in memory.
    """
    index_json = None
    for member in limits.scan_members(tf, filename):
        check_tar_members(filename, [member])
        path = member.name.lstrip("./")
        if not path.startswith("info/") or not member.isfile():
            continue
        if path == "info/index.json":
            index_json = limits.read_member(
                filename, path, tf.extractfile(member), member.size, limits.MAX_INDEX_JSON
            )
        elif member.size > limits.MAX_INFO_MEMBER:
            raise limits.too_large(filename, path, member.size, limits.MAX_INFO_MEMBER)
    return index_json


def _read_tar_bz2(path: Path, filename: str, budget: int) -> dict[str, Any]:
    try:
        with bz2.open(path, "rb") as raw:
            with limits.open_tar_stream(
                limits.InflationGuard(raw, filename, budget), filename
            ) as tf:
                return _parse_index_json(filename, _scan_tar(filename, tf))
    except (tarfile.TarError, EOFError, OSError, ValueError) as error:
        raise InvalidDistribution(f"{filename}: corrupt tar.bz2 archive ({error})") from error


def _read_conda_v2(path: Path, filename: str, stem: str, budget: int) -> dict[str, Any]:
    zf = limits.open_zip(path, filename)
    try:
        with zf:
            check_zip_entries(filename, zf)
            infos = zf.infolist()
            for info in infos:
                if info.compress_type != zipfile.ZIP_STORED:
                    raise InvalidDistribution(
                        f"{filename}: entry {info.filename!r} is compressed (zip method "
                        f"{info.compress_type}); "
                        "rattler reads only stored entries in a .conda: rebuild it with "
                        "conda-package-handling or rattler-build"
                    )
            names = [info.filename for info in infos]
            expected = {f"info-{stem}.tar.zst", f"pkg-{stem}.tar.zst"}
            if not expected <= set(names):
                raise InvalidDistribution(
                    f"{filename}: a .conda must hold {sorted(expected)}; it holds {names}"
                )
            guard = limits.InflationGuard(
                None, filename, budget
            )  # one budget for both inner archives
            index_json = _scan_zst_tar(filename, zf, f"info-{stem}.tar.zst", guard)
            _scan_zst_tar(filename, zf, f"pkg-{stem}.tar.zst", guard)
    except ZIP_READ_ERRORS as error:
        raise InvalidDistribution(f"{filename}: corrupt .conda archive ({error})") from error
    return _parse_index_json(filename, index_json)


def _scan_zst_tar(
    filename: str, zf: zipfile.ZipFile, member: str, guard: limits.InflationGuard
) -> bytes | None:
    try:
        with zf.open(member) as compressed:
            guard.inner = zstandard.ZstdDecompressor(
                max_window_size=limits.MAX_ZSTD_WINDOW
            ).stream_reader(compressed)
            with limits.open_tar_stream(guard, filename) as tf:
                return _scan_tar(filename, tf)
    except (tarfile.TarError, zstandard.ZstdError, *ZIP_READ_ERRORS) as error:
        raise InvalidDistribution(
            f"{filename}: corrupt inner archive {member} ({error})"
        ) from error
