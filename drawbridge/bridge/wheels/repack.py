"""Repack a wheel into a conda package for one target, the way pypa/installer installs it.

The wheel is the source (`installer.sources.WheelFile`, RECORD checked), a conda staging
prefix is the destination (`CondaDestination`, which knows the target's layout), and
`installer.install` is the core that walks one into the other. rattler-build's assembler
then writes the archive.

- pure wheel, target None: one `noarch: python` package; files under `site-packages/`
  and `python-scripts/`, entry points declared in `info/link.json` so conda and rattler
  create launchers (Windows included).
- binary wheel, one target: `lib/pythonX.Y/site-packages` + `bin` (Linux, macOS) or
  `Lib/site-packages` + `Scripts` (Windows), pinned to `python` and `python_abi`.

Scripts (entry points and a wheel's `#!python` scripts) name the environment's Python as
`scripts` says: a prefix placeholder recorded in paths.json, or a Windows launcher.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from io import BytesIO
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import rattler_build
from installer import install
from installer.destinations import SchemeDictionaryDestination
from installer.records import RecordEntry
from installer.sources import WheelFile
from installer.utils import Scheme
from packaging.metadata import RawMetadata, parse_email

from drawbridge.bridge.wheels.conda_paths import correct_paths_json
from drawbridge.bridge.errors import InvalidWheel
from drawbridge.bridge.translate.names import NameTable
from drawbridge.bridge.wheels.schemes import destination_options
from drawbridge.bridge.wheels.scripts import (
    PREFIX_PLACEHOLDER,
    WINDOWS_PYTHONS,
    python_script_section,
    windows_launcher,
    windows_launcher_name,
)
from drawbridge.bridge.translate.targets import Target
from drawbridge.channel.distributions import read_wheel_metadata
from drawbridge.channel.limits import open_zip
from drawbridge.channel.errors import InvalidDistribution

if TYPE_CHECKING:
    from installer.scripts import ScriptSection

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


class CondaDestination(SchemeDictionaryDestination):
    """A staging prefix laid out for one conda target; collects noarch entry points and the
    files that name the prefix placeholder."""

    def __init__(self, root: Path, target: Target | None, distribution: str) -> None:
        options = destination_options(root, target, distribution, PREFIX_PLACEHOLDER)
        self.windows = target is not None and target.os == "win"
        if self.windows:  # installer's launchers run the prefix's python.exe, wherever it is
            options["interpreter"] = WINDOWS_PYTHONS["console"]
        super().__init__(**options)
        self.root = root
        self.target = target
        self.entry_points: list[str] = []
        self.notes: list[str] = []
        #: package paths whose shebang names PREFIX_PLACEHOLDER, for paths.json
        self.prefixed: list[str] = []

    def write_script(
        self, name: str, module: str, attr: str, section: ScriptSection
    ) -> RecordEntry:
        if self.target is None:  # noarch: conda and rattler make the launcher from link.json
            self.entry_points.append(f"{name} = {module}:{attr}")
            return RecordEntry(f"{name}.drawbridge-entry-point", None, None)
        record = super().write_script(name, module, attr, section)
        if not self.windows:
            self._prefixed(record.path)
        return record

    def write_file(
        self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        if scheme != "scripts":
            return super().write_file(scheme, path, stream, is_executable)
        path = os.fspath(path)
        section = python_script_section(stream.read(len(b"#!pythonw")))
        stream.seek(0)
        if section is not None and self.windows:
            launcher = windows_launcher(stream.read(), section)
            return self.write_to_fs(
                scheme, windows_launcher_name(path), BytesIO(launcher), is_executable=True
            )
        # installer writes the placeholder's python into a #!python shebang; pip makes every
        # script executable (a wheel built on Windows records no mode)
        record = super().write_file(scheme, path, stream, is_executable=True)
        if section is not None:
            self._prefixed(record.path)
            if self.target is None:
                self.notes.append(
                    f"script {path!r} is a command on Linux and macOS; on Windows it lands as"
                    f" Scripts/{path}, to be run with python"
                )
        return record

    def _prefixed(self, path: str) -> None:
        scripts = Path(self.scheme_dict["scripts"]).relative_to(self.root).as_posix()
        self.prefixed.append(f"{scripts}/{path}")

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
    extra: RawMetadata = field(default_factory=RawMetadata, compare=False)


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
        if target is None or destination.prefixed:
            correct_paths_json(
                Path(output.path),
                unlist_info=target is None,
                prefixed=destination.prefixed,
                placeholder=PREFIX_PLACEHOLDER,
            )
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
