"""Translate a wheel's Requires-Dist and Requires-Python into conda dependencies per target.

Markers are evaluated for every target (Python × platform): a dependency that holds for
all targets is kept, for none is dropped, and one that differs makes the package
per-Python or per-platform instead of noarch. Every dropped or unexpressible requirement
is reported with its reason; nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import rattler
from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from drawbridge.bridge.translate.names import NameTable
from drawbridge.bridge.translate.targets import Target

_PLATFORM_ENVIRONMENT = {
    "linux-64": ("linux", "Linux", "posix", "x86_64"),
    "linux-aarch64": ("linux", "Linux", "posix", "aarch64"),
    "osx-64": ("darwin", "Darwin", "posix", "x86_64"),
    "osx-arm64": ("darwin", "Darwin", "posix", "arm64"),
    "win-64": ("win32", "Windows", "nt", "AMD64"),
}


@dataclass(frozen=True)
class Dropped:
    """A requirement that is not a conda dependency, and why."""

    requirement: str
    reason: str
    unexpressible: bool = False  # True: it should apply but conda cannot say it


@dataclass(frozen=True)
class Translation:
    """The conda dependencies of one wheel for each target, and what was left out."""

    depends: dict[Target, tuple[str, ...]]
    dropped: tuple[Dropped, ...]
    #: the PyPI requirements (markers stripped) that hold on at least one target
    followed: tuple[str, ...] = ()

    @property
    def varies_by_python(self) -> bool:
        return self._varies(lambda t: t.subdir)

    @property
    def varies_by_platform(self) -> bool:
        return self._varies(lambda t: t.python)

    @property
    def uniform(self) -> bool:
        """True when every target has the same dependencies (noarch is possible)."""
        return len(set(self.depends.values())) <= 1

    def _varies(self, fixed: Callable[[Target], str]) -> bool:
        groups: dict[str, set[tuple[str, ...]]] = {}
        for target, depends in self.depends.items():
            groups.setdefault(fixed(target), set()).add(depends)
        return any(len(variants) > 1 for variants in groups.values())


class UnexpressibleRequirement(ValueError):
    """A requirement conda's match-spec language cannot state."""


#: the interpreter a Python 2.7 target runs (the last 2.7 release)
PYTHON2_FULL_VERSION = "2.7.18"


def marker_environment(target: Target, extra: str = "") -> dict[str, str]:
    """The PEP 508 marker variables a CPython on `target` would report (Python 2 on Linux
    says `linux2`, and is 2.7.18)."""
    try:
        sys_platform, system, os_name, machine = _PLATFORM_ENVIRONMENT[target.subdir]
    except KeyError as error:
        raise UnexpressibleRequirement(f"no marker environment for {target.subdir}") from error
    python2 = target.python_tuple < (3, 0)
    full_version = PYTHON2_FULL_VERSION if python2 else f"{target.python}.0"
    if python2 and sys_platform == "linux":
        sys_platform = "linux2"
    return {
        "python_version": target.python,
        "python_full_version": full_version,
        "implementation_name": "cpython",
        "implementation_version": full_version,
        "platform_python_implementation": "CPython",
        "sys_platform": sys_platform,
        "platform_system": system,
        "os_name": os_name,
        "platform_machine": machine,
        "platform_release": "",
        "platform_version": "",
        "extra": extra,
    }


def _check_spec(spec: str, requirement: str) -> str:
    try:
        rattler.MatchSpec(spec)
    except Exception as error:
        raise UnexpressibleRequirement(
            f"{requirement!r} gives {spec!r}, not a conda spec"
        ) from error
    return spec


def conda_version_spec(specifier: SpecifierSet, requirement: str) -> str:
    """PEP 440 specifiers as a conda version spec ('' for any version)."""
    parts = []
    for item in sorted(specifier, key=str):
        if item.operator == "===":
            raise UnexpressibleRequirement(
                f"{requirement!r}: conda has no arbitrary equality (===)"
            )
        if "+" in item.version:
            raise UnexpressibleRequirement(f"{requirement!r}: conda has no local versions (+...)")
        if item.operator == "==" and item.version.endswith(".*"):
            parts.append(
                item.version
            )  # conda writes a prefix match as `1.4.*`; strict parsers refuse `==1.4.*`
        else:
            parts.append(f"{item.operator}{item.version}")
    return ",".join(parts)


def conda_dependency(requirement: Requirement, names: NameTable) -> str:
    """One PEP 508 requirement (markers already decided) as a conda match spec."""
    text = str(requirement)
    if requirement.url:
        raise UnexpressibleRequirement(
            f"{text!r}: a direct URL reference cannot be a conda dependency"
        )
    version = conda_version_spec(requirement.specifier, text)
    spec = f"{names.conda_name(requirement.name)} {version}".strip()
    return _check_spec(spec, text)


def python_dependency(requires_python: str | None) -> str | None:
    """Requires-Python as a conda `python` spec, or None when it says nothing."""
    if not requires_python or not requires_python.strip():
        return None
    try:
        specifier = SpecifierSet(requires_python)
    except InvalidSpecifier as error:
        raise UnexpressibleRequirement(
            f"Requires-Python {requires_python!r} is not valid"
        ) from error
    version = conda_version_spec(specifier, f"Requires-Python {requires_python}")
    return _check_spec(f"python {version}", requires_python) if version else None


def _applies(marker: Marker | None, target: Target, extras: Sequence[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate(marker_environment(target, extra)) for extra in ("", *extras))


def _mentions_extra(marker: Marker | None) -> bool:
    return marker is not None and "extra" in str(marker)


def translate(
    requires_dist: Iterable[str],
    targets: Sequence[Target],
    names: NameTable,
    extras: Sequence[str] = (),
) -> Translation:
    """Conda dependencies for each target, with every requirement left out reported."""
    depends: dict[Target, list[str]] = {target: [] for target in targets}
    dropped: list[Dropped] = []
    followed: list[str] = []
    for text in requires_dist:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            dropped.append(Dropped(text, f"not a valid PEP 508 requirement ({error})", True))
            continue
        applies_to = [t for t in targets if _applies(requirement.marker, t, extras)]
        if not applies_to:
            reason = (
                f"only with an extra that was not asked for ({requirement.marker})"
                if _mentions_extra(requirement.marker)
                else f"its marker is false on every target ({requirement.marker})"
            )
            dropped.append(Dropped(text, reason))
            continue
        bare = Requirement(text)
        bare.marker = None
        try:
            spec = conda_dependency(bare, names)
        except UnexpressibleRequirement as error:
            dropped.append(Dropped(text, str(error), True))
            continue
        for target in applies_to:
            depends[target].append(spec)
        followed.append(str(bare))
    return Translation(
        depends={t: tuple(sorted(set(d))) for t, d in depends.items()},
        dropped=tuple(dropped),
        followed=tuple(followed),
    )
