"""Repack a wheel into a conda package for one target, the way pypa/installer installs it.

The wheel is the source (`installer.sources.WheelFile`, RECORD checked), a conda staging
prefix is the destination (`CondaDestination`, which knows the target's layout), and
`installer.install` is the core that walks one into the other. rattler-build's assembler
then writes the archive.

- pure wheel, target None: one `noarch: python` package; files under `site-packages/`,
  entry points declared in `info/link.json` so conda and rattler create launchers
  (Windows included).
- binary wheel, one target: `lib/pythonX.Y/site-packages` + `bin` (Linux, macOS) or
  `Lib/site-packages` + `Scripts` (Windows), pinned to `python` and `python_abi`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tarfile
import tempfile
import zipfile
from io import BytesIO
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import rattler_build
import zstandard
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.records import RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme
from packaging.metadata import parse_email

from drawbridge.bridge.errors import InvalidWheel
from drawbridge.bridge.names import NameTable
from drawbridge.bridge.schemes import destination_options
from drawbridge.bridge.targets import Target
from drawbridge.channel.distributions import read_wheel_metadata
from drawbridge.channel.limits import open_zip
from drawbridge.channel.errors import InvalidDistribution

SCHEMES = ("purelib", "platlib", "scripts", "data", "headers")


@dataclass(frozen=True)
class RepackedPackage:
    """A conda package made from a wheel."""

    path: Path
    name: str
    version: str
    build: str
    subdir: str
    wheel: str
    entry_points: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the package could not carry, said plainly


RELOCATABLE_SCRIPT = """#!/bin/sh
'''exec' "$(dirname -- "$0")/python" "$0" "$@"
' '''
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {name}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit({attr}())
"""


class CondaDestination(SchemeDictionaryDestination):
    """A staging prefix laid out for one conda target; collects entry points for noarch."""

    def __init__(self, root: Path, target: Target | None, distribution: str) -> None:
        super().__init__(**destination_options(root, target, distribution))
        self.root = root
        self.target = target
        self.entry_points: list[str] = []
        self.notes: list[str] = []

    def write_script(self, name: str, module: str, attr: str, section: str) -> RecordEntry:
        if self.target is None:  # noarch: conda and rattler make the launcher from link.json
            self.entry_points.append(f"{name} = {module}:{attr}")
            return RecordEntry(f"{name}.drawbridge-entry-point", None, None)
        if self.target.os == "win":
            return self._write_windows_script(name, module, attr)
        return self._write_relocatable_script(name, module, attr)

    def _write_relocatable_script(self, name: str, module: str, attr: str) -> RecordEntry:
        # A shebang would need conda's prefix rewriting, which the assembler does not
        # record; this /bin/sh trampoline (pip's and distlib's trick for long shebangs)
        # runs the python beside the script, wherever the environment is.
        body = RELOCATABLE_SCRIPT.format(module=module, name=attr.split(".")[0], attr=attr).encode()
        return self.write_file(Scheme("scripts"), name, BytesIO(body), is_executable=True)

    def _write_windows_script(self, name: str, module: str, attr: str) -> RecordEntry:
        # Without conda's cli-64.exe we cannot ship a launcher that finds the prefix's
        # python.exe; write the -script.py conda's launchers use, and say so.
        body = (
            f"import sys\nfrom {module} import {attr.split('.')[0]}\n"
            f"if __name__ == '__main__':\n    sys.exit({attr}())\n"
        ).encode()
        self.notes.append(
            f"win-64 entry point {name!r}: Scripts/{name}-script.py only, no .exe launcher"
        )
        return self.write_file(
            Scheme("scripts"), f"{name}-script.py", BytesIO(body), is_executable=False
        )

    def finalize_installation(
        self, scheme: Scheme, record_file_path: str, records: Iterable[tuple[Scheme, RecordEntry]]
    ) -> None:
        kept = [(s, r) for s, r in records if not r.path.endswith(".drawbridge-entry-point")]
        super().finalize_installation(scheme, record_file_path, kept)


@dataclass(frozen=True)
class WheelMetadata:
    """The core metadata a conda package's about section needs."""

    name: str
    version: str
    summary: str = ""
    home: str = ""
    license: str = ""
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    extra: dict = field(default_factory=dict, compare=False)


def read_metadata(wheel: Path) -> WheelMetadata:
    """Read METADATA from a wheel, after checking its archive is safe."""
    try:
        fields, _ = parse_email(read_wheel_metadata(wheel))
    except InvalidDistribution as error:
        raise InvalidWheel(str(error)) from None
    urls = fields.get("project_urls") or {}
    home = fields.get("home_page") or next(iter(urls.values()), "")
    return WheelMetadata(
        name=fields.get("name", ""),
        version=fields.get("version", ""),
        summary=fields.get("summary", ""),
        home=home,
        license=fields.get("license_expression") or fields.get("license") or "",
        requires_dist=tuple(fields.get("requires_dist", [])),
        requires_python=fields.get("requires_python"),
        extra=fields,
    )


def build_string(target: Target | None, depends: Sequence[str], build_number: int) -> str:
    """`pyh<hash>_<n>` for noarch, `py311h<hash>_<n>` for a binary target."""
    digest = hashlib.sha256("\n".join(sorted(depends)).encode()).hexdigest()[:7]
    prefix = "py" if target is None else f"py{target.python.replace('.', '')}"
    return f"{prefix}h{digest}_{build_number}"


def binary_pins(target: Target) -> list[str]:
    """`python` and `python_abi` pins of a package built for one CPython."""
    major, minor = target.python_tuple
    abi = f"cp{major}{minor}" + ("mu" if (major, minor) < (3, 0) and target.os != "win" else "")
    return [
        f"python >={major}.{minor},<{major}.{minor + 1}.0a0",
        f"python_abi {major}.{minor}.* *_{abi}",
    ]


def _license_files(root: Path) -> list[Path]:
    found = []
    for dist_info in root.rglob("*.dist-info"):
        for path in dist_info.rglob("*"):
            if path.is_file() and (
                path.parent.name == "licenses"
                or path.name.upper().startswith(("LICENSE", "LICENCE", "COPYING"))
            ):
                found.append(path)
    return sorted(found)


def repack(
    wheel: Path,
    target: Target | None,
    output_dir: Path,
    names: NameTable,
    depends: Iterable[str],
    build_number: int = 0,
) -> RepackedPackage:
    """Make one conda package from `wheel` for `target` (None for noarch: python)."""
    try:
        metadata = read_metadata(wheel)
    except (InvalidDistribution, zipfile.BadZipFile, KeyError, ValueError) as error:
        raise InvalidWheel(f"{wheel.name}: cannot repack ({error})") from error
    conda_name = names.conda_name(metadata.name)
    all_depends = sorted(set(depends) | (set(binary_pins(target)) if target else set()))
    build = build_string(target, all_depends, build_number)
    output_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".repack-{conda_name}-", dir=output_dir))
    try:
        destination = CondaDestination(staging, target, metadata.name.replace("-", "_"))
        # read_metadata checked every member; open_zip bounds what the entries inflate to
        with open_zip(wheel, wheel.name) as zf:
            source = WheelFile(zf)
            _validate_record(source, wheel.name)
            install(source, destination, {"INSTALLER": b"conda\n"})
        if target is None:
            link = {
                "noarch": {"type": "python", "entry_points": destination.entry_points},
                "package_metadata_version": 1,
            }
            (staging / "info").mkdir()
            (staging / "info" / "link.json").write_text(json.dumps(link))
        output = rattler_build.assemble_package(
            name=conda_name,
            version=metadata.version,
            target_platform=target.subdir if target else "noarch",
            build_string=build,
            output_dir=output_dir,
            files_dir=staging,
            noarch="python" if target is None else None,
            depends=all_depends,
            build_number=build_number,
            homepage=metadata.home or None,
            license=metadata.license or None,
            summary=metadata.summary or None,
            license_files=[str(p) for p in _license_files(staging)] or None,
            compression_level=3,
        )
        if target is None:
            drop_info_from_paths(Path(output.path))
    except (InvalidDistribution, ValueError, OSError) as error:
        raise InvalidWheel(f"{wheel.name}: cannot repack ({error})") from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RepackedPackage(
        path=Path(output.path),
        name=conda_name,
        version=metadata.version,
        build=build,
        subdir=target.subdir if target else "noarch",
        wheel=wheel.name,
        entry_points=tuple(destination.entry_points),
        notes=tuple(destination.notes),
    )


def _validate_record(source: WheelFile, filename: str) -> None:
    try:
        source.validate_record(validate_contents=True)
    except Exception as error:  # installer's _WheelFileValidationError
        raise InvalidWheel(
            f"{filename}: its RECORD does not match its contents ({error})"
        ) from error


def drop_info_from_paths(package: Path) -> None:
    """Unlist `info/` files (link.json) from a .conda's paths.json, in place.

    rattler-build's assembler lists the files it was given under `info/` in paths.json as
    if they were payload, so installers would link `info/link.json` into the prefix, where
    every noarch package with entry points clobbers the others' copy.
    """
    with zipfile.ZipFile(package) as zf:
        members = [(info, zf.read(info)) for info in zf.infolist()]
    partial = package.with_name(f".{package.name}.part")
    with zipfile.ZipFile(partial, "w") as zf:
        for info, data in members:
            if info.filename.startswith("info-") and info.filename.endswith(".tar.zst"):
                data = _unlist_info_paths(data)
            zf.writestr(info, data)
    os.replace(partial, package)


def _unlist_info_paths(compressed: bytes) -> bytes:
    """The info tarball with `info/...` entries removed from its paths.json."""
    with zstandard.ZstdDecompressor().stream_reader(BytesIO(compressed)) as reader:
        plain = reader.read()
    source = tarfile.open(fileobj=BytesIO(plain))
    output = BytesIO()
    with source, tarfile.open(fileobj=output, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in source.getmembers():
            handle = source.extractfile(member) if member.isfile() else None
            data = handle.read() if handle is not None else None
            if member.name == "info/paths.json" and data is not None:
                paths = json.loads(data)
                paths["paths"] = [p for p in paths["paths"] if not p["_path"].startswith("info/")]
                data = json.dumps(paths, indent=2, sort_keys=True).encode()
                member.size = len(data)
            tar.addfile(member, BytesIO(data) if data is not None else None)
    return zstandard.ZstdCompressor(level=3).compress(output.getvalue())
