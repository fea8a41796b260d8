"""What a recipe needs to know about an sdist that grayskull does not say: its build system,
its compiled sources, what its build looks for outside Python (C libraries: `native_needs`),
its licence files and the licence its metadata names.

The sdist is read once, streamed, with the channel's bounds on members and inflation; only
`pyproject.toml` and `PKG-INFO` at its top are read into memory whole. Its build scripts
(the top's setup.py and other .py files, setup.cfg, pyproject.toml, meson.build and
CMakeLists.txt near the top) and its C, C++ and Cython files are scanned, each up to
`MAX_SCANNED` bytes and all of them up to `MAX_SCANNED_TOTAL`; vendored copies of other
projects are not.
"""

from __future__ import annotations

import gzip
import tarfile
import tomllib
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from functools import partial
from pathlib import Path, PurePosixPath
from typing import IO

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.recipes.native_needs import (
    LibraryTable,
    NativeNeed,
    build_script_needs,
    default_table,
    header_needs,
    includes,
)
from drawbridge.channel.errors import ChannelError
from drawbridge.channel.limits import (
    MAX_CORE_METADATA,
    InflationGuard,
    inflation_budget,
    open_tar_stream,
    open_zip,
    read_member,
    scan_members,
)

#: source suffixes that mean a compiler runs, and the compiler (`${{ compiler(...) }}`)
COMPILED_SUFFIXES = {
    ".c": "c",
    ".cc": "cxx",
    ".cpp": "cxx",
    ".cxx": "cxx",
    ".c++": "cxx",
    ".pyx": "c",
    ".f": "fortran",
    ".f90": "fortran",
    ".rs": "rust",
}
#: folders whose sources are not built into the package (examples, tests, docs)
NOT_BUILT = {"test", "tests", "testing", "doc", "docs", "example", "examples", "benchmarks"}
#: folders holding other projects' code, copied in (their builds are not the sdist's)
VENDORED = {"vendor", "vendored", "_vendor", "third_party", "thirdparty", "3rdparty", "extern"}
#: files whose `#include`s are read
C_FAMILY = {".c", ".cc", ".cpp", ".cxx", ".c++", ".h", ".hh", ".hpp", ".hxx", ".pyx", ".pxd"}
LICENCE_PREFIXES = ("license", "licence", "copying", "copyright", "notice")
MAX_PYPROJECT = 1024 * 1024
#: how much of one build script or source is read for what the build looks for, and of all
MAX_SCANNED = 2 * 1024 * 1024
MAX_SCANNED_TOTAL = 64 * 1024 * 1024
WANTED = {"pyproject.toml": MAX_PYPROJECT, "PKG-INFO": MAX_CORE_METADATA}


class UnreadableSdist(BridgeError):
    """An sdist Drawbridge cannot read to write its recipe."""


@dataclass(frozen=True)
class SdistFacts:
    """What the sdist says about building it."""

    filename: str
    #: `[build-system] requires`, None when the sdist has no `[build-system]` (setup.py only)
    build_requires: tuple[str, ...] | None = None
    build_backend: str = ""
    compiled_sources: tuple[str, ...] = ()  # relative to the sdist's top folder
    licence_files: tuple[str, ...] = ()
    licence_metadata: str = ""  # PKG-INFO's License-Expression or License
    #: what its build looks for outside Python: pkg-config names, *-config, headers, …
    native_needs: tuple[NativeNeed, ...] = ()

    @property
    def compilers(self) -> tuple[str, ...]:
        """The compilers its sources need, in a stable order."""
        wanted = {COMPILED_SUFFIXES[PurePosixPath(p).suffix.lower()] for p in self.compiled_sources}
        return tuple(sorted(wanted, key=["c", "cxx", "fortran", "rust"].index))

    @property
    def uses_cython(self) -> bool:
        return any(p.lower().endswith(".pyx") for p in self.compiled_sources)


def _relative(name: str) -> str | None:
    """A member's path below the sdist's top folder (None for the top folder itself)."""
    parts = PurePosixPath(name.strip("/")).parts
    return "/".join(parts[1:]) if len(parts) > 1 else None


def _scanned(relative: str) -> str:
    """Whether `relative` is scanned: "script" (a build script), "source" (C-family), or ""."""
    path = PurePosixPath(relative)
    folders = {part.lower() for part in path.parts[:-1]}
    if folders & (NOT_BUILT | VENDORED):
        return ""
    name = path.name.lower()
    if len(path.parts) == 1 and (name.endswith(".py") or name in ("setup.cfg", "pyproject.toml")):
        return "script"
    if name in ("meson.build", "cmakelists.txt") and len(path.parts) <= 3:
        return "script"
    return "source" if path.suffix.lower() in C_FAMILY else ""


class _Scan:
    """What one pass over an sdist's members collects."""

    def __init__(self, filename: str, table: LibraryTable) -> None:
        self.filename, self.table = filename, table
        self.names: list[str] = []
        self.members: dict[str, bytes] = {}
        self.needs: list[NativeNeed] = []
        self.includes: list[tuple[str, str, bool]] = []
        self.budget = MAX_SCANNED_TOTAL

    def member(
        self, name: str, size: int, is_file: bool, open_member: Callable[[], IO[bytes] | None]
    ) -> None:
        self.names.append(name)
        relative = _relative(name)
        if relative is None or not is_file:
            return
        wanted = relative in WANTED and relative not in self.members
        kind = _scanned(relative) if self.budget > 0 else ""
        if not wanted and not kind:
            return
        handle = open_member()
        try:
            if wanted:
                data = read_member(self.filename, name, handle, size, WANTED[relative])
                self.members[relative] = data
            else:
                data = handle.read(min(MAX_SCANNED, self.budget)) if handle else b""
        finally:
            if handle:
                handle.close()
        if not kind:
            return
        self.budget -= len(data)
        text = data[:MAX_SCANNED].decode("utf-8", "replace")
        if kind == "script":
            self.needs += build_script_needs(relative, text, self.table)
        else:
            self.includes += [(relative, header, angled) for header, angled in includes(text)]

    def facts(self) -> SdistFacts:
        shipped = filter(None, map(_relative, self.names))
        needs = [*self.needs, *header_needs(self.includes, shipped, self.table)]
        return _facts(self.filename, self.members, self.names, tuple(dict.fromkeys(needs)))


def _facts(
    filename: str,
    members: dict[str, bytes],
    names: list[str],
    native_needs: tuple[NativeNeed, ...] = (),
) -> SdistFacts:
    compiled, licences = [], []
    for relative in filter(None, map(_relative, names)):
        path = PurePosixPath(relative)
        if path.suffix.lower() in COMPILED_SUFFIXES and not NOT_BUILT & {
            part.lower() for part in path.parts[:-1]
        }:
            compiled.append(relative)
        if len(path.parts) == 1 and path.name.lower().startswith(LICENCE_PREFIXES):
            licences.append(relative)
    build_requires, backend = None, ""
    if "pyproject.toml" in members:
        try:
            document = tomllib.loads(members["pyproject.toml"].decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise UnreadableSdist(f"{filename}: pyproject.toml is not valid TOML ({error})")
        system = document.get("build-system")
        if isinstance(system, dict):
            build_requires = tuple(str(r) for r in system.get("requires") or ())
            backend = str(system.get("build-backend") or "")
    headers = BytesHeaderParser().parsebytes(members.get("PKG-INFO", b""))
    licence = headers.get("License-Expression") or headers.get("License") or ""
    return SdistFacts(
        filename=filename,
        build_requires=build_requires,
        build_backend=backend,
        compiled_sources=tuple(sorted(compiled)),
        licence_files=tuple(sorted(licences)),
        licence_metadata=licence.strip().splitlines()[0] if licence.strip() else "",
        native_needs=native_needs,
    )


def read_sdist_facts(sdist: Path, table: LibraryTable | None = None) -> SdistFacts:
    """Read `sdist` (.tar.gz or .zip) once; UnreadableSdist if it is not one. `table` (default
    Drawbridge's `recipes/c-libraries.toml`) names the C libraries its build looks for."""
    filename = sdist.name
    scan = _Scan(filename, table or default_table())
    try:
        if filename.endswith(".zip"):
            with open_zip(sdist, filename) as zf:
                for info in zf.infolist():
                    scan.member(
                        info.filename,
                        info.file_size,
                        not info.is_dir(),
                        partial(zf.open, info),
                    )
            return scan.facts()
        with gzip.open(sdist, "rb") as raw:
            guard = InflationGuard(raw, filename, inflation_budget(sdist.stat().st_size))
            with open_tar_stream(guard, filename) as tf:
                for member in scan_members(tf, filename):
                    scan.member(
                        member.name,
                        member.size,
                        member.isfile(),
                        partial(tf.extractfile, member),
                    )
        return scan.facts()
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        raise UnreadableSdist(f"{filename}: cannot read the sdist ({error})") from error
    except ChannelError as error:
        raise UnreadableSdist(str(error)) from error
