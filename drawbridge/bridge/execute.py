"""Carry out a plan: fetch wheels, repack them, publish conda packages and wheels, index once.

A project whose wheel cannot be fetched or repacked publishes nothing; the rest of the
batch still goes through. Files the channel already holds are left as they are.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.names import NameTable
from drawbridge.bridge.plan import ProjectPlan
from drawbridge.bridge.pypi import Upstream, fetch_all
from drawbridge.bridge.repack import repack
from drawbridge.channel.service import Channels

Step = Callable[[str], None]


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
    on_step: Step | None = None,
) -> list[Outcome]:
    """Bridge every wheel-route project of `plans` into `channel`; report every project."""
    step = on_step or (lambda _label: None)
    wheel_plans = [p for p in plans if p.route == "wheel"]
    files = [w for p in wheel_plans for w in p.wheels]
    fetched, fetch_errors = fetch_all(upstream, files, on_done=lambda f: step(f"fetched {f.filename}"))
    work_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".bridge-", dir=work_dir))
    outcomes: dict[str, Outcome] = {}
    owner: dict[Path, str] = {}  # each file to publish -> its project
    try:
        for plan in wheel_plans:
            made, error = _repack_project(plan, fetched, fetch_errors, staging, names, step)
            if error:
                outcomes[plan.project] = Outcome(plan.project, plan.version, plan.route, False, error)
                continue
            fresh = [p for p in made if not channels.has_file(channel, p.name)]
            fresh += [fetched[w.filename] for w in plan.wheels if not channels.has_file(channel, w.filename)]
            owner.update({path: plan.project for path in fresh})
            summary = f"{len(made)} conda package(s)" + ("" if fresh else ", all already in the channel")
            outcomes[plan.project] = Outcome(plan.project, plan.version, plan.route, True, summary, tuple(p.name for p in made))
        _, refused = channels.publish_many(channel, list(owner), uploaded_by="bridge")
        for path, reason in refused:
            before = outcomes[owner[path]]
            outcomes[owner[path]] = Outcome(before.project, before.version, before.route, False, f"refused by the channel: {reason}")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [outcomes.get(p.project) or _not_bridged(p) for p in plans]


def _repack_project(plan, fetched, fetch_errors, staging, names, step):  # type: ignore[no-untyped-def]
    made: list[Path] = []
    for build in plan.builds:
        if build.wheel.filename in fetch_errors:
            return made, fetch_errors[build.wheel.filename]
        # one folder per subdir: the same package name can be built for several subdirs
        subdir = build.target.subdir if build.target else "noarch"
        try:
            package = repack(fetched[build.wheel.filename], build.target, staging / plan.project / subdir, names, build.depends)
        except BridgeError as error:
            return made, str(error)
        made.append(package.path)
        step(f"repacked {package.path.name}")
    return made, None


def _not_bridged(plan: ProjectPlan) -> Outcome:
    results = {
        "upstream": "upstream conda has it; nothing bridged",
        "recipe": f"needs a recipe ({plan.reason})",
        "cannot": plan.reason,
    }
    return Outcome(plan.project, plan.version, plan.route, plan.route != "cannot", results.get(plan.route, plan.reason))
