"""Nothing uninstallable is published: solve every conda package on every target it claims.

For each package and each target (subdir × Python) it claims, py-rattler must solve
`python X.Y.*` plus that exact package against the channels, with the target's virtual
packages fixed by the baseline (never the host's). New packages are indexed into a
temporary channel that joins the Drawbridge channel's priority tier, as they will once
published. A target is solved once with all its packages; only a failing target is
narrowed down to its culprits. A file refused on any target is left out and what used it
is checked again, until nothing more is refused (the fixed point).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import rattler
from rattler import MatchSpec, MultiSource
from rattler.exceptions import SolverError
from rattler.index import index_fs
from rattler.package import IndexJson

from drawbridge.channel import repodata_files
from drawbridge.bridge.installable.claims import DEFAULT_BASELINE, Baseline, CondaFile, serves
from drawbridge.bridge.errors import InstallabilityError
from drawbridge.bridge.missing.solver_messages import Reason, condense
from drawbridge.bridge.translate.targets import Target

__all__ = [
    "Baseline",
    "CondaFile",
    "InstallabilityError",
    "Report",
    "Verdict",
    "check_channel",
    "check_installable",
    "serves",
]

Found = dict[CondaFile, Reason | None]  # each package's reason to fail on a target, or None


@dataclass(frozen=True)
class Verdict:
    """Whether one package installs on one target, and if not, why."""

    package: CondaFile
    target: Target
    ok: bool
    reason: str = ""
    detail: str = field(default="", compare=False, repr=False)  # rattler's full message

    def __str__(self) -> str:
        where = f"({self.target.subdir}, py{self.target.python})"
        return f"{self.package} {where}: {self.reason if not self.ok else 'installable'}"


@dataclass(frozen=True)
class Report:
    """Every verdict of one check, what served no target, and what the check cost."""

    verdicts: tuple[Verdict, ...]
    unchecked: tuple[CondaFile, ...] = ()
    solves: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> tuple[Verdict, ...]:
        """Every (package, target) that does not install, with its reason."""
        return tuple(v for v in self.verdicts if not v.ok)

    @property
    def refused(self) -> tuple[CondaFile, ...]:
        """The packages that fail on at least one target they serve (not to be published)."""
        return tuple(dict.fromkeys(v.package for v in self.failures))

    @property
    def accepted(self) -> tuple[CondaFile, ...]:
        """The packages that install on every target they serve."""
        refused = set(self.refused)
        return tuple(dict.fromkeys(v.package for v in self.verdicts if v.package not in refused))


def check_installable(
    new_packages: Sequence[Path],
    channels: Sequence[str | Path],
    targets: Sequence[Target],
    *,
    baseline: Baseline = DEFAULT_BASELINE,
    gateway: rattler.Gateway | None = None,
    work_dir: Path | None = None,
) -> Report:
    """Check conda package files about to be published; refused ones must not be.

    `channels` are URLs or local folders in priority order, the first being the Drawbridge
    channel the packages go into (they join its priority tier), then the upstream conda
    channels. Every package is checked on each of `targets` it serves (see `serves`);
    the others go to `Report.unchecked`. The temporary channel lives in `work_dir`.
    A `gateway` may be shared between checks only while the channels do not change: it
    keeps their repodata in memory. Runs its own event loop (call it from sync code).
    """
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=".installable-", dir=work_dir))
    try:
        paths = _stage(new_packages, staging, {t.subdir for t in targets})
        asyncio.run(index_fs(staging, write_zst=False, write_shards=False, force=True))
        gateway = gateway or rattler.Gateway(show_progress=False)
        uri = staging.resolve().as_uri()
        subdirs = sorted({t.subdir for t in targets} | {subdir for subdir, _ in paths})
        indexed = asyncio.run(_records(gateway, uri, subdirs))
        files = [replace(f, location=str(paths[f.subdir, f.filename])) for f in indexed]
        tier = MultiSource("drawbridge", [uri, *map(_source, channels[:1])])
        sources: list[str | MultiSource] = [tier, *map(_source, channels[1:])]

        def leave_out(refused: Sequence[CondaFile]) -> None:
            _drop_from_repodata(staging, refused)
            gateway.clear_repodata_cache(uri)

        checker = _Checker(sources, gateway, baseline)
        verdicts, unchecked = asyncio.run(checker.run(files, targets, leave_out))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Report(tuple(verdicts), tuple(unchecked), checker.solves, time.perf_counter() - started)


def check_channel(
    channels: Sequence[str | Path],
    targets: Sequence[Target],
    *,
    baseline: Baseline = DEFAULT_BASELINE,
    gateway: rattler.Gateway | None = None,
) -> Report:
    """Check every package a channel holds (`channels[0]`, URL or local conda folder) on
    the targets it serves, against it and the channels after it (upstream conda).

    Only the subdirs of `targets` and noarch are read; nothing is left out (a package that
    fails makes its dependents fail in their own solves, as it would for a client).
    """
    started = time.perf_counter()
    gateway = gateway or rattler.Gateway(show_progress=False)
    sources = [_source(c) for c in channels]
    subdirs = sorted({t.subdir for t in targets})
    files = asyncio.run(_records(gateway, sources[0], subdirs))
    checker = _Checker(sources, gateway, baseline)
    verdicts, unchecked = asyncio.run(checker.run(files, targets, None))
    return Report(tuple(verdicts), tuple(unchecked), checker.solves, time.perf_counter() - started)


class _Checker:
    """Solves against fixed sources, one target at a time, counting the solves."""

    def __init__(
        self, sources: Sequence[str | MultiSource], gateway: rattler.Gateway, baseline: Baseline
    ) -> None:
        self.sources, self.gateway, self.baseline = sources, gateway, baseline
        self.solves = 0
        #: per target, the (subdir, filename) of every record a successful solve used
        self.used: dict[Target, set[tuple[str, str]]] = {}

    async def run(
        self,
        files: list[CondaFile],
        targets: Sequence[Target],
        leave_out: Callable[[list[CondaFile]], None] | None,
    ) -> tuple[list[Verdict], list[CondaFile]]:
        """Check `files` until nothing more is refused; `leave_out` removes refused ones
        from the sources (None: report only, as for a channel's own packages). Returns
        the verdicts and the files that claim none of `targets`."""
        claims = {f: [t for t in targets if serves(f, t)] for f in files}
        verdicts: dict[tuple[CondaFile, Target], Verdict] = {}
        alive = [f for f in files if claims[f]]
        refused: dict[CondaFile, Verdict] = {}
        todo = sorted({t for f in alive for t in claims[f]})
        while todo:
            found = await asyncio.gather(
                *(self.check_target(t, [f for f in alive if t in claims[f]]) for t in todo)
            )
            for target, reasons in zip(todo, found, strict=True):
                for package, reason in reasons.items():
                    verdicts[package, target] = _verdict(package, target, reason, refused)
            newly = [f for f in alive if any(not verdicts[f, t].ok for t in claims[f])]
            if leave_out is None or not newly:
                break
            for package in newly:
                refused[package] = next(
                    verdicts[package, t] for t in claims[package] if not verdicts[package, t].ok
                )
            alive = [f for f in alive if f not in refused]
            leave_out(newly)
            # a verdict stands unless the solve that gave it used a package now left out
            gone = {(f.subdir, f.filename) for f in newly}
            todo = sorted({t for f in alive for t in claims[f] if self.used.get(t, set()) & gone})
        ordered = sorted(
            verdicts.values(), key=lambda v: (v.package.name, v.package.subdir, v.target)
        )
        return ordered, [f for f in files if not claims[f]]

    async def check_target(self, target: Target, members: list[CondaFile]) -> Found:
        """Each member's reason to fail on `target`, None for those that install."""
        self.used[target] = set()
        found: Found = {}
        for layer in _layers(members):
            error = await self.solve(target, layer)
            if error is None:
                found.update(dict.fromkeys(layer))
                continue
            if len(members) > 1 and not found:  # the first failure: can Python itself install?
                python_alone = await self.solve(target, [])
                if python_alone is not None:
                    return dict.fromkeys(members, self.reason(python_alone, target))
            found.update(await self.narrow(target, layer, error))
        return found

    async def narrow(self, target: Target, members: list[CondaFile], error: str) -> Found:
        """Find the members of a failing group that fail on their own: take the one rattler
        blames, confirm it alone, solve the rest again; bisect when the blame is unclear."""
        found: Found = {}
        rest = list(members)
        while True:
            blamed = _blamed(error, rest)
            alone = None
            if blamed is not None:
                alone = error if len(rest) == 1 else await self.solve(target, [blamed])
            if blamed is None or alone is None:  # nobody named, or a conflict between members
                found.update(await self.bisect(target, rest, error))
                return found
            found[blamed] = self.reason(alone, target)
            rest.remove(blamed)
            next_error = await self.solve(target, rest) if rest else None
            if next_error is None:
                found.update(dict.fromkeys(rest))
                return found
            error = next_error

    async def bisect(self, target: Target, members: list[CondaFile], error: str) -> Found:
        """Split a failing group until each failure is one package's own."""
        if len(members) == 1:
            return {members[0]: self.reason(error, target)}
        found: Found = {}
        half = len(members) // 2
        for part in (members[:half], members[half:]):
            part_error = await self.solve(target, part)
            if part_error is None:
                found.update(dict.fromkeys(part))
            else:
                found.update(await self.bisect(target, part, part_error))
        return found

    async def solve(self, target: Target, members: list[CondaFile]) -> str | None:
        """rattler's message if `python X.Y.*` and `members` do not solve together, else None."""
        self.solves += 1
        specs = [f"python {target.python}.*", *(m.spec for m in members)]
        try:
            records = await rattler.solve(
                self.sources,
                specs,
                gateway=self.gateway,
                platforms=[rattler.Subdir(target.subdir), "noarch"],
                virtual_packages=self.baseline.virtual_packages(target.subdir),
            )
        except SolverError as error:
            return str(error)
        except Exception as error:  # rattler's GatewayError and friends: an unreadable channel
            raise InstallabilityError(f"cannot solve for {target}: {error}") from None
        self.used[target].update((r.subdir, r.file_name) for r in records)
        return None

    def reason(self, message: str, target: Target) -> Reason:
        """rattler's `message` for `target`, condensed to the missing piece."""
        return condense(message, target.python, target.subdir, self.baseline.offered(target.subdir))


def _verdict(
    package: CondaFile, target: Target, reason: Reason | None, refused: dict[CondaFile, Verdict]
) -> Verdict:
    if reason is None:
        return Verdict(package, target, True)
    text = reason.text
    for other in refused:  # say when what is missing was refused in an earlier round
        if other.name in reason.missing and other.subdir in ("noarch", target.subdir):
            text += f" ({other} is refused: {refused[other].reason})"
            break
    return Verdict(package, target, False, text, reason.detail)


def _layers(members: list[CondaFile]) -> list[list[CondaFile]]:
    """Groups that can share an environment: never two versions of one name in a group."""
    layers: list[list[CondaFile]] = []
    for member in members:
        layer = next((g for g in layers if all(other.name != member.name for other in g)), None)
        if layer is None:
            layers.append([member])
        else:
            layer.append(member)
    return layers


def _blamed(message: str, members: list[CondaFile]) -> CondaFile | None:
    """The member whose spec rattler's message starts from, if it names one."""
    best: tuple[int, CondaFile] | None = None
    for member in members:
        rendered = str(MatchSpec(member.spec))  # as rattler prints it: `app ==2.0 pyh_0[…]`
        for phrase in (
            f"{rendered} cannot be installed",
            f"No candidates were found for {rendered}",
        ):
            at = message.find(phrase)
            if at >= 0 and (best is None or at < best[0]):
                best = (at, member)
    return best[1] if best else None


def _source(channel: str | Path) -> str:
    """A channel as rattler takes it: URLs as they are, folders as file:// URLs (a
    channel's repodata made first if a publish left it stale: `repodata_files`)."""
    text = str(channel)
    if "://" in text:
        return text
    repodata_files.ensure_channel(Path(text))
    return Path(text).resolve().as_uri()


def _stage(
    packages: Sequence[Path], staging: Path, subdirs: set[str]
) -> dict[tuple[str, str], Path]:
    """Link each package into `staging/<subdir>/`; return (subdir, filename) → source path."""
    placed: dict[tuple[str, str], Path] = {}
    for subdir in subdirs | {"noarch"}:
        (staging / subdir).mkdir(parents=True, exist_ok=True)
    for path in packages:
        try:
            package_subdir = IndexJson.from_package_archive(path).subdir
        except Exception as error:
            raise InstallabilityError(
                f"{path}: cannot read its info/index.json ({error}); is it a conda package?"
            ) from None
        if not package_subdir:
            raise InstallabilityError(
                f"{path}: its info/index.json names no subdir; build it again with a conda "
                "package builder, which writes one"
            )
        subdir = package_subdir
        if (subdir, path.name) in placed:
            raise InstallabilityError(
                f"{subdir}/{path.name} is given twice: {placed[subdir, path.name]} and {path}"
            )
        (staging / subdir).mkdir(exist_ok=True)
        try:
            (staging / subdir / path.name).hardlink_to(path)
        except OSError:
            shutil.copy2(path, staging / subdir / path.name)
        placed[subdir, path.name] = path
    return placed


async def _records(
    gateway: rattler.Gateway, source: str, subdirs: Iterable[str]
) -> list[CondaFile]:
    """Every package of `source` in `subdirs` and noarch."""
    found: list[CondaFile] = []
    for subdir in sorted(set(subdirs) | {"noarch"}):
        try:
            platform = [rattler.Subdir(subdir)]
            names = [n.normalized for n in await gateway.names([source], platform)]
            result = (
                await gateway.query([source], platform, names, recursive=False) if names else []
            )
        except Exception as error:
            raise InstallabilityError(f"cannot read {source} ({subdir}): {error}") from None
        found += [
            CondaFile(
                r.file_name,
                r.name.normalized,
                str(r.version),
                str(r.build),
                r.subdir,
                r.url,
                tuple(r.depends),
            )
            for records in result
            for r in records
        ]
    return found


def _drop_from_repodata(channel: Path, packages: Sequence[CondaFile]) -> None:
    """Remove `packages` from the temporary channel's repodata (files stay; unused)."""
    for subdir in {p.subdir for p in packages}:
        repodata_path = channel / subdir / "repodata.json"
        repodata = json.loads(repodata_path.read_text())
        for package in packages:
            if package.subdir == subdir:
                for key in ("packages", "packages.conda"):
                    repodata.get(key, {}).pop(package.filename, None)
        repodata_path.write_text(json.dumps(repodata))
