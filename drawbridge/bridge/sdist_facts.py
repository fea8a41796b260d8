"""What a recipe needs to know about an sdist that grayskull does not say: its build system,
its compiled sources, its licence files and the licence its metadata names.

The sdist is read once, streamed, with the channel's bounds on members and inflation; only
`pyproject.toml` and `PKG-INFO` at its top are read into memory.
"""

from __future__ import annotations

import gzip
import tarfile
import tomllib
import zipfile
import zlib
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path, PurePosixPath

from drawbridge.bridge.errors import BridgeError
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
LICENCE_PREFIXES = ("license", "licence", "copying", "copyright", "notice")
MAX_PYPROJECT = 1024 * 1024


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


def _facts(filename: str, members: dict[str, bytes], names: list[str]) -> SdistFacts:
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
    )


def read_sdist_facts(sdist: Path) -> SdistFacts:
    """Read `sdist` (.tar.gz or .zip) once; UnreadableSdist if it is not one."""
    filename = sdist.name
    wanted = {"pyproject.toml": MAX_PYPROJECT, "PKG-INFO": MAX_CORE_METADATA}
    members: dict[str, bytes] = {}
    names: list[str] = []
    try:
        if filename.endswith(".zip"):
            with open_zip(sdist, filename) as zf:
                for info in zf.infolist():
                    names.append(info.filename)
                    relative = _relative(info.filename)
                    if relative in wanted and relative not in members:
                        with zf.open(info) as handle:
                            members[relative] = read_member(
                                filename, info.filename, handle, info.file_size, wanted[relative]
                            )
            return _facts(filename, members, names)
        with gzip.open(sdist, "rb") as raw:
            guard = InflationGuard(raw, filename, inflation_budget(sdist.stat().st_size))
            with open_tar_stream(guard, filename) as tf:
                for member in scan_members(tf, filename):
                    names.append(member.name)
                    relative = _relative(member.name)
                    if relative in wanted and relative not in members and member.isfile():
                        members[relative] = read_member(
                            filename,
                            member.name,
                            tf.extractfile(member),
                            member.size,
                            wanted[relative],
                        )
        return _facts(filename, members, names)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
        raise UnreadableSdist(f"{filename}: cannot read the sdist ({error})") from error
    except ChannelError as error:
        raise UnreadableSdist(str(error)) from error
