"""What the connected conda mirrors carry, asked once per bridge run through rattler's
gateway: their package names, whether they carry a project for one target, and which
targets they have a Python for. Which mirrors are connected, and how clients reach them,
is `channel.upstream_conda`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import cached_property

import rattler

from drawbridge.bridge.translate.targets import Target


class CondaUpstream:
    """The upstream conda channels of a bridge run; each name is queried once."""

    def __init__(self, channels: Sequence[str], subdirs: Sequence[str]) -> None:
        self.channels = [rattler.Channel(c) for c in channels]
        self.subdirs = [rattler.Subdir(s) for s in sorted(set(subdirs) | {"noarch"})]
        self.gateway = rattler.Gateway()
        self._records: dict[str, list[rattler.RepoDataRecord]] = {}
        #: subdir -> the `python` records for it
        self._pythons: dict[str, list[rattler.RepoDataRecord]] = {}

    @cached_property
    def names(self) -> list[str]:
        """Every package name the channels carry in the subdirs of the run."""
        if not self.channels:
            return []
        result = asyncio.run(self.gateway.names(self.channels, self.subdirs))
        return sorted({name.normalized for name in result})

    def records(self, conda_name: str) -> list[rattler.RepoDataRecord]:
        """Every record of `conda_name` in the channels (all subdirs of the run)."""
        if conda_name not in self._records:
            found = []
            if self.channels and conda_name in set(self.names):
                result = asyncio.run(
                    self.gateway.query(self.channels, self.subdirs, [conda_name], recursive=False)
                )
                found = [record for records in result for record in records]
            self._records[conda_name] = found
        return self._records[conda_name]

    def carries(self, conda_name: str, version_spec: str, target: Target | None = None) -> bool:
        """True if a package `conda_name version_spec` exists upstream that installs on
        `target` (its subdir or noarch, and a `python`/`python_abi` it admits); any target
        when `target` is None."""
        matcher = rattler.MatchSpec(f"{conda_name} {version_spec}".strip())
        for record in self.records(conda_name):
            if not matcher.matches(record):
                continue
            if target is None or (
                record.subdir in (target.subdir, "noarch") and _admits_python(record, target)
            ):
                return True
        return False

    def has_python(self, target: Target) -> bool:
        """True if the channels have a `python` of the target's version for its subdir (any
        subdir: not only the run's), so that something can be installed there."""
        if target.subdir not in self._pythons:
            found = []
            if self.channels:
                result = asyncio.run(
                    self.gateway.query(
                        self.channels,
                        [rattler.Subdir(target.subdir), "noarch"],
                        ["python"],
                        recursive=False,
                    )
                )
                found = [record for records in result for record in records]
            self._pythons[target.subdir] = found
        matcher = rattler.MatchSpec(f"python {target.python}.*")
        return any(
            matcher.matches(r) and r.subdir in (target.subdir, "noarch")
            for r in self._pythons[target.subdir]
        )


def _admits_python(record: rattler.RepoDataRecord, target: Target) -> bool:
    """False if the record's `python` or `python_abi` dependency excludes the target's Python."""
    python = rattler.Version(f"{target.python}.999")
    for dependency in record.depends:
        try:
            spec = rattler.MatchSpec(dependency)
        except Exception:
            continue
        if spec.name.normalized in ("python", "python_abi") and spec.version is not None:
            if not rattler.VersionSpec(str(spec.version)).matches(python):
                return False
    return True
