"""Solve an environment file's conda dependencies for one platform with py-rattler.

The solve uses fixed virtual packages per platform (not the ones of the machine running
the lock), so the same file gives the same lock on every machine.
"""

from __future__ import annotations

import asyncio

import rattler

from drawbridge.channel.platforms import DEFAULT_SUBDIRS
from drawbridge.environments.defaults import SystemBaseline
from drawbridge.environments.errors import Missing, RemoteError, Unresolvable

#: the subdirs an environment may be locked for
LOCKABLE_PLATFORMS = DEFAULT_SUBDIRS


def virtual_packages(
    platform: str, baseline: SystemBaseline
) -> list[rattler.GenericVirtualPackage]:
    """The virtual packages a machine of `platform` offers, from the baseline only."""
    found: list[tuple[str, str]] = []
    if platform.startswith("linux-"):
        found += [("__unix", "0"), ("__linux", "0"), ("__glibc", baseline.glibc)]
    elif platform.startswith("osx-"):
        found += [
            ("__unix", "0"),
            ("__osx", baseline.macos_arm if platform == "osx-arm64" else baseline.macos_x86),
        ]
    elif platform.startswith("win-"):
        found += [("__win", "0")]
    return [
        rattler.GenericVirtualPackage(
            rattler.PackageName(name), rattler.Version(version), rattler.BuildString("0")
        )
        for name, version in found
    ]


def check_platform(platform: str) -> str:
    if platform not in LOCKABLE_PLATFORMS:
        raise ValueError(
            f"{platform!r} is not a platform Drawbridge locks for; use one of "
            f"{', '.join(LOCKABLE_PLATFORMS)}"
        )
    return platform


class CondaSolver:
    """Solve specs against a fixed list of channel URLs, one platform at a time."""

    def __init__(
        self,
        channels: list[str],
        baseline: SystemBaseline | None = None,
        client: rattler.Client | None = None,
    ) -> None:
        self.channels = [rattler.Channel(url) for url in channels]
        self.baseline = baseline or SystemBaseline()
        self.gateway = rattler.Gateway(show_progress=False, client=client)

    def solve(self, specs: list[str], platform: str) -> list[rattler.RepoDataRecord]:
        """The records to install, sorted by name; Unresolvable names what is missing."""
        # one event loop for the check and the solve (each loop costs a socket pair and more)
        return asyncio.run(self._solve(specs, platform))

    def find_missing(self, specs: list[str], platform: str) -> list[Missing]:
        """Each requested spec no channel can satisfy on `platform`, with the reason."""
        return asyncio.run(self._find_missing(specs, platform))

    async def _solve(self, specs: list[str], platform: str) -> list[rattler.RepoDataRecord]:
        missing = await self._find_missing(specs, platform)
        if missing:
            raise Unresolvable(missing)
        try:
            records = await rattler.solve(
                self.channels,
                specs,
                gateway=self.gateway,
                platforms=[rattler.Subdir(platform), "noarch"],
                virtual_packages=virtual_packages(platform, self.baseline),
            )
        except Exception as error:  # rattler's SolverError and friends
            raise Unresolvable(
                [], f"{platform}: the conda dependencies cannot be solved together:\n{error}"
            ) from None
        return sorted(records, key=lambda record: record.name.normalized)

    async def _find_missing(self, specs: list[str], platform: str) -> list[Missing]:
        missing = []
        wanted = [rattler.MatchSpec(spec) for spec in specs]
        names = [m.name.normalized for m in wanted if not m.name.normalized.startswith("__")]
        found = await self._records(names, [platform, "noarch"]) if names else []
        for spec, match_spec in zip(specs, wanted):
            name = match_spec.name.normalized
            if name.startswith("__"):
                continue
            here = [record for record in found if record.name.normalized == name]
            if not here:
                elsewhere = sorted(
                    {r.subdir for r in await self._records([name], list(LOCKABLE_PLATFORMS))}
                )
                reason = (
                    f"no build for {platform} (builds exist for {', '.join(elsewhere)})"
                    if elsewhere
                    else f"not in any channel ({', '.join(c.base_url for c in self.channels)})"
                )
                missing.append(Missing("conda", name, spec, platform, reason))
            elif not any(match_spec.matches(record) for record in here):
                versions = sorted({str(r.version) for r in here}, key=rattler.Version)
                missing.append(
                    Missing(
                        "conda",
                        name,
                        spec,
                        platform,
                        f"no version matches (available: {', '.join(versions[-8:])})",
                    )
                )
        return missing

    async def _records(
        self, names: list[str], platforms: list[str]
    ) -> list[rattler.RepoDataRecord]:
        """The records of `names` on `platforms` in every channel (one query for them all)."""
        try:
            result = await self.gateway.query(
                self.channels, [rattler.Subdir(p) for p in platforms], names, recursive=False
            )
        except Exception as error:  # rattler's GatewayError: a channel that cannot be read
            hint = (
                "; pass a reader token with --token or $DRAWBRIDGE_TOKEN"
                if "401" in str(error)
                else ""
            )
            raise RemoteError(f"cannot read the channels' repodata: {error}{hint}") from None
        return [record for per_channel in result for record in per_channel]
