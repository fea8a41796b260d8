"""Carry out a plan: fetch wheels, repack them, check the packages install, publish, index once.

A project whose wheel cannot be fetched or repacked publishes nothing; the rest of the
batch still goes through. Before anything is published, every new conda package is
solved on each target it claims (`installable`); a package that no solver could install
is not published, and its project's outcome names the missing piece. Files the channel
already holds are left as they are.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.installable import Report
from drawbridge.bridge.names import NameTable
from drawbridge.bridge.plan import ProjectPlan
from drawbridge.bridge.pypi import Upstream, fetch_all
from drawbridge.bridge.repack import repack
from drawbridge.channel.service import Channels, Provenance

Step = Callable[[str], None]
#: checks conda package files about to be published (`installable.check_installable`)
Checker = Callable[[Sequence[Path]], Report]


@dataclass(frozen=True)
class Outcome:
    """What became of one project."""

    project: str
    version: str | None
    route: str
    ok: bool
    result: str
    packages: tuple[str, ...] = ()


def execute(
    plans: Sequence[ProjectPlan],
    upstream: Upstream,
    channels: Channels,
    channel: str,
    names: NameTable,
    work_dir: Path,
    check: Checker | None = None,
    on_step: Step | None = None,
) -> list[Outcome]:
    """Bridge every project of `plans` that has builds into `channel`; report every project."""
    step = on_step or (lambda _label: None)
    wheel_plans = [p for p in plans if p.builds]
    files = [w for p in wheel_plans for w in p.wheels]
    fetched, fetch_errors = fetch_all(
        upstream, files, on_done=lambda f: step(f"fetched {f.filename}")
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".bridge-", dir=work_dir))
    outcomes: dict[str, Outcome] = {}
    made_by: dict[str, list[Path]] = {}
    made_from: dict[Path, Provenance] = {}  # each conda package -> the wheel it was made from
    notes: dict[str, list[str]] = {}  # each project -> what its packages could not carry
    try:
        for plan in wheel_plans:
            made, error = _repack_project(
                plan, fetched, fetch_errors, staging, names, step, made_from, notes
            )
            if error:
                outcomes[plan.project] = Outcome(plan.project, plan.version, "wheel", False, error)
            else:
                made_by[plan.project] = made
        refusals = _check(
            check,
            [
                p
                for made in made_by.values()
                for p in made
                if not channels.has_file(channel, p.name)
            ],
            step,
        )
        owner: dict[Path, str] = {}  # each file to publish -> its project
        for plan in wheel_plans:
            if plan.project not in made_by:
                continue
            made = made_by[plan.project]
            refused_here = {path: refusals[path] for path in made if path in refusals}
            fresh = [
                p for p in made if p not in refused_here and not channels.has_file(channel, p.name)
            ]
            fresh += [
                fetched[w.filename]
                for w in plan.wheels
                if not channels.has_file(channel, w.filename)
            ]
            owner.update({path: plan.project for path in fresh})
            outcomes[plan.project] = _outcome(
                plan, made, refused_here, bool(fresh), notes.get(plan.project, [])
            )
        _, refused = channels.publish_many(
            channel, list(owner), uploaded_by="bridge", provenance=made_from
        )
        for path, reason in refused:
            before = outcomes[owner[path]]
            outcomes[owner[path]] = Outcome(
                before.project,
                before.version,
                before.route,
                False,
                f"refused by the channel: {reason}",
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [outcomes.get(p.project) or _not_bridged(p) for p in plans]


def _check(check: Checker | None, packages: list[Path], step: Step) -> dict[Path, str]:
    """Each package no solver could install on some target it claims, with the reasons."""
    step(f"checking {len(packages)} package(s) install on their targets")
    if check is None or not packages:
        return {}
    report = check(packages)
    reasons: dict[Path, list[str]] = {}
    for verdict in report.failures:
        reasons.setdefault(Path(verdict.package.location), []).append(str(verdict))
    return {path: "; ".join(lines) for path, lines in reasons.items()}


def _outcome(
    plan: ProjectPlan,
    made: list[Path],
    refused: dict[Path, str],
    fresh: bool,
    notes: Sequence[str] = (),
) -> Outcome:
    """What became of a repacked project, refusals named, what its packages could not
    carry said."""
    kept = [p for p in made if p not in refused]
    if refused:
        reasons = "; ".join(dict.fromkeys(refused.values()))
        summary = (
            f"{len(kept)} conda package(s); {len(refused)} not published, "
            f"no solver could install them: {reasons}"
        )
        return Outcome(
            plan.project, plan.version, "wheel", False, summary, tuple(p.name for p in kept)
        )
    summary = f"{len(made)} conda package(s)" + ("" if fresh else ", all already in the channel")
    if plan.needs_recipe:
        summary += f"; {len(plan.needs_recipe)} target(s) need a recipe"
    unserved = [t for group in plan.groups if group.route == "cannot" for t in group.targets]
    if unserved:
        summary += f"; nothing fits {len(unserved)} target(s) (see the plan)"
    summary += "".join(f"; {note}" for note in dict.fromkeys(notes))
    return Outcome(plan.project, plan.version, "wheel", True, summary, tuple(p.name for p in made))


def _repack_project(
    plan: ProjectPlan,
    fetched: dict[str, Path],
    fetch_errors: dict[str, str],
    staging: Path,
    names: NameTable,
    step: Step,
    made_from: dict[Path, Provenance],
    notes: dict[str, list[str]],
) -> tuple[list[Path], str | None]:
    """Repack the project's wheels; record in `made_from` which wheel made each package,
    in `notes` what the packages could not carry."""
    made: list[Path] = []
    for build in plan.builds:
        if build.wheel.filename in fetch_errors:
            return made, fetch_errors[build.wheel.filename]
        # one folder per subdir: the same package name can be built for several subdirs
        subdir = build.target.subdir if build.target else "noarch"
        try:
            package = repack(
                fetched[build.wheel.filename],
                build.target,
                staging / plan.project / subdir,
                names,
                build.depends,
            )
        except BridgeError as error:
            return made, str(error)
        made.append(package.path)
        made_from[package.path] = Provenance("wheel", build.wheel.filename)
        notes.setdefault(plan.project, []).extend(package.notes)
        step(f"repacked {package.path.name}")
    return made, None


def _not_bridged(plan: ProjectPlan) -> Outcome:
    results = {
        "upstream": "upstream conda has it; nothing bridged",
        "recipe": f"needs a recipe ({plan.reason})" if plan.reason else "needs a recipe",
        "cannot": plan.reason,
    }
    return Outcome(
        plan.project,
        plan.version,
        plan.route,
        plan.route != "cannot",
        results.get(plan.route, plan.reason),
    )
