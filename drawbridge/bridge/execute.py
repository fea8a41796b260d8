"""Carry out a plan: fetch wheels, repack them, check the packages install, publish, index once.

Every wheel a target pins goes to the pip view, also where the conda side is upstream
(pip only), whatever the conda side decides. A project whose wheel cannot be fetched or
repacked publishes nothing; the rest of the batch still goes through. Before anything is
published, every new conda package is solved on each target it claims (`installable`);
a package that no solver could install is not published, and its project's outcome names
the missing piece. Files the channel already holds are left as they are and never
fetched again: a wheel to repack is read from the channel's own copy.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.installable.check import Report
from drawbridge.bridge.translate.names import NameTable
from drawbridge.bridge.plan import ProjectPlan
from drawbridge.bridge.upstream.pypi import Upstream, UpstreamFile, fetch_all
from drawbridge.bridge.wheels.repack import repack
from drawbridge.bridge.policy import holding
from drawbridge.bridge.policy.holding import PolicyGate
from drawbridge.channel.held import HeldFiles
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
    wheels: tuple[str, ...] = ()  # the wheels this run published to the pip view


def execute(
    plans: Sequence[ProjectPlan],
    upstream: Upstream,
    channels: Channels,
    channel: str,
    names: NameTable,
    work_dir: Path,
    check: Checker | None = None,
    on_step: Step | None = None,
    gate: PolicyGate | None = None,
    held: HeldFiles | None = None,
) -> list[Outcome]:
    """Bridge every project of `plans` that has builds into `channel`; report every project.
    With `gate`, files policy holds are kept in `held` instead of being published."""
    step = on_step or (lambda _label: None)
    wheel_plans = [p for p in plans if p.builds]
    pip_plans = [p for p in plans if p.pip_only]
    fetched, fetch_errors = _fetch(
        upstream, channels, channel, wheel_plans, pip_plans, lambda f: step(f"fetched {f}")
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
            wheels = _new_wheels(plan.pip_wheels, fetched, channels, channel)
            owner.update({path: plan.project for path in [*fresh, *wheels]})
            outcomes[plan.project] = _outcome(
                plan, made, refused_here, bool(fresh or wheels), notes.get(plan.project, []), wheels
            )
        for plan in pip_plans:
            if plan.project not in outcomes:
                wheels = _new_wheels(plan.pip_wheels, fetched, channels, channel)
                owner.update({path: plan.project for path in wheels})
                outcomes[plan.project] = _pip_only_outcome(plan, wheels)
            failed = [fetch_errors[w.filename] for w in plan.pip_only if w.filename in fetch_errors]
            if failed:  # the pip view would lack what some target installs
                before = outcomes[plan.project]
                outcomes[plan.project] = replace(
                    before, ok=False, result="; ".join([before.result, *failed])
                )
        if gate is not None and gate.active:
            kept = _hold_by_policy(gate, held, channel, owner, made_from)
            for project, reasons in kept.items():
                before = outcomes[project]
                outcomes[project] = replace(
                    before,
                    ok=False,
                    result=f"held by policy ({'; '.join(reasons)}): `drawbridge held list`",
                    packages=(),
                    wheels=(),
                )
        _, refused = channels.publish_many(
            channel, list(owner), uploaded_by="bridge", provenance=made_from
        )
        for path, reason in refused:
            before = outcomes[owner[path]]
            outcomes[owner[path]] = replace(
                before, ok=False, result=f"refused by the channel: {reason}", packages=(), wheels=()
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [outcomes.get(p.project) or _not_bridged(p) for p in plans]


def _hold_by_policy(
    gate: PolicyGate,
    held: HeldFiles | None,
    channel: str,
    owner: dict[Path, str],
    made_from: dict[Path, Provenance],
) -> dict[str, list[str]]:
    """Take the files policy holds out of `owner` (kept in `held`); each project whose
    files were held, with the reasons. A project is held whole: a wheel held holds the
    conda packages made from it, and the other way round."""
    reasons: dict[str, list[str]] = {}
    for path, project in owner.items():
        made = made_from.get(path)
        verdict = gate.judge(path, made.made_from if made else "")
        if verdict.reasons:
            reasons.setdefault(project, list(verdict.reasons))
    for path, project in list(owner.items()):
        if project in reasons:
            made = made_from.get(path)
            verdict = gate.judge(path, made.made_from if made else "")
            if held is not None:
                holding.hold(
                    held,
                    channel,
                    path,
                    replace(verdict, reasons=verdict.reasons or tuple(reasons[project])),
                    "bridge",
                    made.how if made else "",
                    made.made_from if made else "",
                )
            del owner[path]
    return reasons


def _fetch(
    upstream: Upstream,
    channels: Channels,
    channel: str,
    wheel_plans: Sequence[ProjectPlan],
    pip_plans: Sequence[ProjectPlan],
    on_done: Step,
) -> tuple[dict[str, Path], dict[str, str]]:
    """The wheels the plans need, in parallel: filename -> path, filename -> error. A wheel
    the channel holds is never fetched: one to repack is read from the channel's copy, a
    pip-only one is not needed at all."""
    held: dict[str, Path] = {}
    wanted: list[UpstreamFile] = []
    for wheel in [w for p in wheel_plans for w in p.wheels]:
        copy = channels.files_dir(channel) / wheel.filename
        if channels.has_file(channel, wheel.filename) and copy.is_file():
            held[wheel.filename] = copy
        else:
            wanted.append(wheel)
    wanted += [
        w
        for p in pip_plans
        for w in p.pip_only
        if w.filename not in held and not channels.has_file(channel, w.filename)
    ]
    fetched, errors = fetch_all(upstream, wanted, on_done=lambda f: on_done(f.filename))
    return {**held, **fetched}, errors


def _new_wheels(
    wheels: Sequence[UpstreamFile], fetched: dict[str, Path], channels: Channels, channel: str
) -> list[Path]:
    """The fetched wheels among `wheels` that the channel's pip view does not hold yet."""
    return [
        fetched[w.filename]
        for w in wheels
        if w.filename in fetched and not channels.has_file(channel, w.filename)
    ]


def _pip_only_outcome(plan: ProjectPlan, wheels: Sequence[Path]) -> Outcome:
    """What became of a project the upstream conda channels carry: its wheels, pip only."""
    said = (
        f"{len(wheels)} wheel(s) to the pip view only"
        if wheels
        else "its wheels already in the pip view"
    )
    return Outcome(
        plan.project,
        plan.version,
        plan.route,
        True,
        f"upstream conda has it; {said}",
        wheels=tuple(w.name for w in wheels),
    )


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
    wheels: Sequence[Path] = (),
) -> Outcome:
    """What became of a repacked project, refusals named, what its packages could not
    carry said, the wheels it gave the pip view counted."""
    kept = [p for p in made if p not in refused]
    published = tuple(w.name for w in wheels)
    if refused:
        reasons = "; ".join(dict.fromkeys(refused.values()))
        summary = (
            f"{len(kept)} conda package(s); {len(refused)} not published, "
            f"no solver could install them: {reasons}"
        )
        return Outcome(
            plan.project,
            plan.version,
            "wheel",
            False,
            summary,
            tuple(p.name for p in kept),
            published,
        )
    summary = f"{len(made)} conda package(s)" + ("" if fresh else ", all already in the channel")
    if wheels:
        summary += f", {len(wheels)} wheel(s) to pip"
    if plan.needs_recipe:
        summary += f"; {len(plan.needs_recipe)} target(s) need a recipe"
    unserved = [t for group in plan.groups if group.route == "cannot" for t in group.targets]
    if unserved:
        summary += f"; nothing fits {len(unserved)} target(s) (see the plan)"
    summary += "".join(f"; {note}" for note in dict.fromkeys(notes))
    return Outcome(
        plan.project, plan.version, "wheel", True, summary, tuple(p.name for p in made), published
    )


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
