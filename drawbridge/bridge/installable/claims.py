"""Which targets a conda package claims, and what a machine of each target offers.

A package claims its own subdir (or every subdir, if noarch) and the Pythons its `python`
and `python_abi` dependencies admit. A target machine offers conda virtual packages fixed
by the site's baseline (glibc, macOS), never the ones of the host running the check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatch

import rattler
from rattler import GenericVirtualPackage, MatchSpec, Version, VersionSpec

from drawbridge.bridge.errors import UnsupportedTarget
from drawbridge.bridge.translate.targets import DEFAULT_MACOS, DEFAULT_MANYLINUX, Target
from drawbridge.channel.platforms import macos_text

#: conda's name for each subdir's CPU family (the `__archspec` build string)
ARCHSPEC = {
    "linux-64": "x86_64",
    "linux-aarch64": "aarch64",
    "osx-64": "x86_64",
    "osx-arm64": "arm64",
    "win-64": "x86_64",
}
#: virtual packages that say which OS a noarch package is for (conda-forge's noarch-per-OS)
_OS_VIRTUALS = ("__unix", "__linux", "__osx", "__win")


@dataclass(frozen=True)
class Baseline:
    """What every target machine has outside any environment, as conda virtual packages."""

    glibc: str = "{}.{}".format(*DEFAULT_MANYLINUX)
    linux: str = "3.10"  # the kernel that goes with glibc 2.17 (CentOS 7)
    osx_64: str = macos_text(DEFAULT_MACOS["osx-64"])
    osx_arm64: str = macos_text(DEFAULT_MACOS["osx-arm64"])

    @classmethod
    def of_site(
        cls, glibc_minor: int, macos: Mapping[str, tuple[int, int]] = DEFAULT_MACOS
    ) -> Baseline:
        """The baseline of a home's `[bridge]`: `manylinux_glibc_minor` (17 → `__glibc 2.17`)
        and `macos_baseline` (its `macos`: {"osx-arm64": (12, 0)} → `__osx 12.0` there)."""
        merged = {**DEFAULT_MACOS, **macos}
        return cls(
            glibc=f"2.{glibc_minor}",
            osx_64=macos_text(merged["osx-64"]),
            osx_arm64=macos_text(merged["osx-arm64"]),
        )

    def offered(self, subdir: str) -> dict[str, str]:
        """The virtual packages a machine of `subdir` has: name → version."""
        if subdir not in ARCHSPEC:
            raise UnsupportedTarget(
                f"no virtual packages known for subdir {subdir!r}; use one of {', '.join(ARCHSPEC)}"
            )
        if subdir.startswith("linux-"):
            found = {"__unix": "0", "__linux": self.linux, "__glibc": self.glibc}
        elif subdir.startswith("osx-"):
            found = {
                "__unix": "0",
                "__osx": self.osx_arm64 if subdir == "osx-arm64" else self.osx_64,
            }
        else:
            found = {"__win": "0"}
        return {**found, "__archspec": "1"}

    def virtual_packages(self, subdir: str) -> list[GenericVirtualPackage]:
        """`offered(subdir)` as py-rattler virtual packages."""
        return [
            GenericVirtualPackage(
                rattler.PackageName(name),
                Version(version),
                rattler.BuildString(ARCHSPEC[subdir] if name == "__archspec" else "0"),
            )
            for name, version in self.offered(subdir).items()
        ]


#: glibc 2.17, the kernel beside it, macOS 10.13 (Intel) and 11.0 (Apple silicon)
DEFAULT_BASELINE = Baseline()


@dataclass(frozen=True)
class CondaFile:
    """One conda package under check: its identity and where it comes from."""

    filename: str
    name: str
    version: str
    build: str
    subdir: str
    location: str  # the file's path (a new package) or URL (a channel's package)
    depends: tuple[str, ...] = field(default=(), compare=False, repr=False)

    @property
    def spec(self) -> str:
        """A match spec that selects exactly this package."""
        return (
            f'{self.name}[version="=={self.version}", build="{self.build}", subdir="{self.subdir}"]'
        )

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def serves(package: CondaFile, target: Target) -> bool:
    """Whether `package` claims `target` (see `claims`)."""
    return claims(package.subdir, package.depends, target)


def claims(subdir: str, depends: Iterable[str], target: Target) -> bool:
    """Whether a package of `subdir` with `depends` claims `target`: its own subdir (or
    noarch), and a Python its `python`/`python_abi` dependencies admit; a noarch package
    needing `__linux`, `__osx`, `__win` or `__unix` claims only the targets of that OS."""
    if subdir not in ("noarch", target.subdir):
        return False
    offered = DEFAULT_BASELINE.offered(target.subdir)
    for dependency in depends:
        try:
            spec = MatchSpec(dependency)
        except Exception:  # a dependency rattler cannot parse fails the solve, with its reason
            continue
        name = spec.name.normalized
        if (
            name == "python"
            and spec.version
            and not _admits(spec.version, target.python, ("0", "9999"))
        ):
            return False
        if name == "python_abi" and not _admits_abi(spec, target):
            return False
        if subdir == "noarch" and name in _OS_VIRTUALS and name not in offered:
            return False
    return True


def _admits(version_spec: str, python: str, patches: Iterable[str]) -> bool:
    """Whether some X.Y.<patch> (or X.Y itself, for patch "") matches `version_spec`."""
    spec = VersionSpec(version_spec)
    return any(spec.matches(Version(f"{python}.{patch}" if patch else python)) for patch in patches)


def _admits_abi(spec: MatchSpec, target: Target) -> bool:
    """`python_abi 3.11.* *_cp311` admits 3.11 (`*_cp27mu`, `*_cp27m` admit 2.7)."""
    if spec.version and not _admits(spec.version, target.python, ("",)):
        return False
    tag = "cp" + target.python.replace(".", "")
    return not spec.build or any(
        fnmatch(f"0_{tag}{suffix}", spec.build) for suffix in ("", "m", "mu")
    )
