"""One `uv pip compile --only-binary :all:` run for one target: the versions pip would take there.

uv resolves for a foreign machine with `--python-version` and `--python-platform`; the
macOS baseline goes in through MACOSX_DEPLOYMENT_TARGET (uv's default is 12.0, ours is
the target's). Projects the caller has given up on (no wheel for this target: they go to
a recipe) are taken out of the resolution by an override with a marker that is never
true, which removes them wherever they are required, the request included.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from drawbridge.bridge.errors import BridgeError, UnsupportedTarget
from drawbridge.bridge.resolve.uv_process import uv_binary, uv_environment
from drawbridge.bridge.translate.targets import DEFAULT_MACOS, Target

if TYPE_CHECKING:  # the pypi client (httpx) is not imported to build a uv command
    from drawbridge.bridge.upstream.pypi import Upstream

#: the glibc minors uv 0.9+ accepts in `--python-platform <arch>-manylinux_2_<minor>`
UV_GLIBC_MINORS = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)
_UV_LINUX_ARCH = {"linux-64": "x86_64", "linux-aarch64": "aarch64"}
_UV_TRIPLES = {
    "osx-64": "x86_64-apple-darwin",
    "osx-arm64": "aarch64-apple-darwin",
    "win-64": "x86_64-pc-windows-msvc",
}
NEVER = "python_version < '0'"
#: uv stops at a wheel whose core metadata names another project (one naming another
#: version of the project it takes as it is)
_MISNAMED = re.compile(r"Package metadata name `[^`]*` does not match given name `([^`]+)`")


class ResolverFailed(BridgeError):
    """uv failed for a reason other than "no solution" (network, index, uv itself)."""


@dataclass(frozen=True)
class UvSource:
    """Where uv reads distributions: a simple index, or a folder of files (find-links)."""

    index_url: str | None = None
    folders: tuple[
        Path, ...
    ] = ()  # every folder holding distributions (find-links does not recurse)

    def arguments(self) -> list[str]:
        """uv's index arguments for this source."""
        if self.index_url:
            return ["--index-url", self.index_url]
        return [
            "--no-index",
            *(argument for folder in self.folders for argument in ("--find-links", str(folder))),
        ]


def uv_source(upstream: Upstream) -> UvSource:
    """The uv arguments for an upstream: `SimpleIndexUpstream.index_url`, or the folders of a
    `FolderUpstream`'s distributions."""
    index_url = getattr(upstream, "index_url", None)
    if index_url:
        return UvSource(index_url=str(index_url))
    folders = getattr(upstream, "distribution_folders", None)
    if folders is not None:
        return UvSource(folders=tuple(folders()))
    raise UnsupportedTarget(
        f"{type(upstream).__name__} is neither a simple index nor a folder: uv cannot read it"
    )


def uv_platform(subdir: str, manylinux: tuple[int, int]) -> str:
    """uv's `--python-platform` for a subdir; Linux gets the newest uv glibc not above ours.

    uv knows only the glibc minors in UV_GLIBC_MINORS: a baseline of 2.24 resolves as 2.17
    (wheels tagged manylinux_2_18 to _2_24 are not considered), one below 2.17 cannot be said.
    """
    if subdir in _UV_LINUX_ARCH:
        usable = [minor for minor in UV_GLIBC_MINORS if minor <= manylinux[1]]
        if manylinux[0] != 2 or not usable:
            raise UnsupportedTarget(
                f"uv cannot resolve for glibc {manylinux[0]}.{manylinux[1]}: "
                f"set manylinux_glibc_minor to {UV_GLIBC_MINORS[0]} or more"
            )
        return f"{_UV_LINUX_ARCH[subdir]}-manylinux_2_{usable[-1]}"
    if subdir in _UV_TRIPLES:
        return _UV_TRIPLES[subdir]
    raise UnsupportedTarget(
        f"uv has no platform for subdir {subdir!r}; use one of "
        f"{', '.join(sorted([*_UV_LINUX_ARCH, *_UV_TRIPLES]))}"
    )


def uv_command(
    requirements_file: Path,
    target: Target,
    source: UvSource,
    cache_dir: Path,
    manylinux: tuple[int, int],
    overrides_file: Path | None = None,
    constraints_file: Path | None = None,
) -> list[str]:
    """The `uv pip compile` command line for one target (see the module docstring)."""
    command = [
        uv_binary(),
        "pip",
        "compile",
        str(requirements_file),
        "--only-binary",
        ":all:",
        "--python-version",
        target.python,
        "--python-platform",
        uv_platform(target.subdir, manylinux),
        # any interpreter will do (nothing is built); without one uv looks for, or downloads, X.Y
        "--python",
        sys.executable,
        "--no-python-downloads",
        "--cache-dir",
        str(cache_dir),
        "--no-header",
        "--no-annotate",
        "--color",
        "never",
        "--quiet",
        *source.arguments(),
    ]
    if overrides_file:
        command += ["--overrides", str(overrides_file)]
    if constraints_file:
        command += ["--constraints", str(constraints_file)]
    return command


@dataclass(frozen=True)
class Compiled:
    """What uv decided for one target: a version per project, or why there is none."""

    versions: Mapping[NormalizedName, str]
    no_solution: str = ""  # uv's explanation when the requirements cannot be met
    #: a project uv stopped at because a wheel's metadata names another project ("" if
    #: none); uv does not say which release
    misnamed: NormalizedName = NormalizedName("")


def compile_target(
    requirements: Sequence[str],
    target: Target,
    source: UvSource,
    *,
    cache_dir: Path,
    manylinux: tuple[int, int],
    macos: Mapping[str, tuple[int, int]] = DEFAULT_MACOS,
    excluded: Collection[str] = (),
    constraints: Collection[str] = (),
) -> Compiled:
    """Run uv for one target; `excluded` projects are left out of the resolution entirely.

    `constraints` are requirements uv must also meet (e.g. "upper!=2.0" for a release
    whose Requires-Python uv accepts but pip would not: uv checks only its lower bound).
    """
    with tempfile.TemporaryDirectory(prefix="drawbridge-uv-") as work:
        requirements_file = Path(work) / "request.in"
        requirements_file.write_text("".join(f"{r}\n" for r in requirements))
        overrides_file = None
        if excluded:
            overrides_file = Path(work) / "overrides.txt"
            overrides_file.write_text("".join(f"{name} ; {NEVER}\n" for name in sorted(excluded)))
        constraints_file = None
        if constraints:
            constraints_file = Path(work) / "constraints.txt"
            constraints_file.write_text("".join(f"{line}\n" for line in sorted(constraints)))
        command = uv_command(
            requirements_file,
            target,
            source,
            cache_dir,
            manylinux,
            overrides_file,
            constraints_file,
        )
        result = subprocess.run(
            command,
            check=False,
            capture_output=True,
            text=True,
            env=uv_environment(target.subdir, macos),
            cwd=work,
        )
    if result.returncode == 0:
        return Compiled(parse_pins(result.stdout))
    message = result.stderr.strip()
    if "No solution found" in message:
        return Compiled({}, no_solution=message.removeprefix("error: ").strip())
    if misnamed := _MISNAMED.search(message):
        return Compiled({}, misnamed=canonicalize_name(misnamed.group(1)))
    raise ResolverFailed(f"uv pip compile failed for {target}: {message}")


def parse_pins(output: str) -> dict[NormalizedName, str]:
    """`name==version` lines of uv's requirements output, by project."""
    pins = {}
    for line in output.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name.split("[")[0].strip())] = version.split(";")[0].strip()
    return pins


_OPERATOR = r"(?:===|==|!=|<=|>=|~=|<|>)"
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SPECIFIED = re.compile(
    rf"(?<![\w.`-])({_NAME})(?:\[[^\]]*\])?(?:\{{[^}}]*\}})?"  # a name, [extras], {marker}
    rf"((?:{_OPERATOR}[^\s,`]+)(?:,\s?{_OPERATOR}[^\s,`]+)*)"  # and its specifiers
)
_PHRASED = re.compile(
    rf"(?:versions of|depends on|depend on|you require|required for|available for) `?({_NAME})`?"
    rf"|`({_NAME})`|(?<![\w.-])({_NAME}) (?:was not found|has no|have no|cannot be used)"
)

_NOT_A_PROJECT = re.compile(
    r"^(?:python|[0-9-]+|(?:many|musl)linux-.*|macosx-.*|win-?(?:amd64|32|arm64)|linux-.*"
    r"|cp[0-9]+[a-z]*|pp[0-9]+|py[0-9]*|abi3|none|any)$"
)


def named_projects(no_solution: str) -> dict[str, SpecifierSet]:
    """The projects uv's "no solution" explanation names, with the versions it names them at.

    A project named without versions maps to an empty SpecifierSet (any version).
    "Python" (the interpreter, as in "requires Python >=3.12"), versions and wheel tags
    quoted in hints are not projects.
    """
    named: dict[str, SpecifierSet] = {}
    for match in _SPECIFIED.finditer(no_solution):
        try:
            specifier = SpecifierSet(match.group(2).rstrip(".,"))
        except InvalidSpecifier:
            specifier = SpecifierSet()
        named.setdefault(canonicalize_name(match.group(1)), specifier)
    for match in _PHRASED.finditer(no_solution):
        name = next(group for group in match.groups() if group)
        named.setdefault(canonicalize_name(name), SpecifierSet())
    return {name: spec for name, spec in named.items() if not _NOT_A_PROJECT.match(name)}
