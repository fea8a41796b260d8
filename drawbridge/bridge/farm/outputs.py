"""What an agent uploads for a job, verified before anything of it is published.

Accepted only if every check holds: the job is held by this agent under an unexpired lease;
the build record names the job and the recipe's approved sha256, and the sha256 of every
file uploaded; each conda package's index.json names the job's subdir and, for a Python's
job, that Python (its `python_abi`); each wheel is for that Python (or pure, for noarch);
the installability gate passes on the targets the packages claim. Anything else ends the
job failed with the reason in its log, and nothing is published. A wheel of a platform's
job must be one pip users of that platform can install: repaired for it (on Linux a
manylinux tag within the baseline, `wheel_repair.unfit_for`). What passed is published
into the job's channel with the recipe's provenance, then the job has succeeded.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from drawbridge.bridge.farm.jobs import Job, JobBook, JobRefused
from drawbridge.bridge.farm.schedule import record_outcome
from drawbridge.bridge.installable.check import Baseline, check_installable
from drawbridge.bridge.recipes import wheel_repair
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.bridge.recipes.target_build import (
    CONDA_SUFFIXES,
    NOARCH,
    TargetBuildError,
    package_index,
    source_filename,
)
from drawbridge.bridge.records import BuildRecordRow
from drawbridge.bridge.translate.targets import Target, targets
from drawbridge.bridge.upstream.conda_mirror import CondaUpstream
from drawbridge.channel.home import Home
from drawbridge.channel.publishing import Provenance
from drawbridge.channel.service import Channels
from drawbridge.channel.upstream_conda import upstream_locations


class OutputsRefused(JobRefused):
    """Outputs of a job that failed verification; nothing of them was published."""


@dataclass(frozen=True)
class Accepted:
    job: Job
    published: tuple[str, ...]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _python_of(index: dict[str, Any]) -> str | None:
    """The Python a package is built for, from its `python_abi 3.12.* *_cp312` pin (or its
    `python >=3.12,<3.13.0a0` pin); None if it names none."""
    for depend in index.get("depends", []):
        found = re.match(r"^python_abi\s+(\d+\.\d+)\b", depend) or re.match(
            r"^python\s+>=(\d+\.\d+),<", depend
        )
        if found:
            return found[1]
    return None


def problems(
    job: Job,
    approved_sha256: str,
    record: dict[str, Any],
    files: Sequence[Path],
    baseline: wheel_repair.Baseline | None = None,
) -> list[str]:
    """Why these outputs of `job` may not be published (none: they may), its wheels judged
    against `baseline`; pure but for reading the files."""
    baseline = baseline or wheel_repair.Baseline()
    found = []
    if record.get("job") != job.id:
        found.append(f"the build record is for job {record.get('job')!r}, not job {job.id}")
    if record.get("recipe_sha256") != job.recipe_sha256:
        found.append(
            f"the build record's recipe sha256 {str(record.get('recipe_sha256'))[:12]!r} is not "
            f"the job's approved one ({job.recipe_sha256[:12]})"
        )
    if approved_sha256 != job.recipe_sha256:
        found.append(f"the recipe's approved bytes changed since job {job.id} was queued")
    said = record.get("outputs") or {}
    if sorted(said) != sorted(p.name for p in files):
        uploaded = sorted(p.name for p in files)
        found.append(f"the build record lists {sorted(said)}, the upload holds {uploaded}")
    packages = [p for p in files if p.name.endswith(CONDA_SUFFIXES)]
    if not packages:
        found.append("no conda package was uploaded")
    for path in files:
        if said.get(path.name) not in (None, _sha256(path)):
            found.append(f"{path.name}: its sha256 is not the one the build record names")
        if path.name.endswith(CONDA_SUFFIXES):
            try:
                index = package_index(path)
            except TargetBuildError as error:
                found.append(str(error))
                continue
            if index.get("subdir") != job.subdir:
                found.append(
                    f"{path.name} is for {index.get('subdir')}, and job {job.id} builds for "
                    f"{job.subdir}"
                )
            python = _python_of(index)
            if job.python and python != job.python:
                found.append(
                    f"{path.name} is for python {python or '(none named)'}, and job {job.id} "
                    f"builds for python {job.python}"
                )
        elif path.name.endswith(".whl"):
            try:
                tags = parse_wheel_filename(path.name)[3]
            except InvalidWheelFilename as error:
                found.append(f"{path.name}: {error}")
                continue
            wanted = "cp" + job.python.replace(".", "") if job.python else None
            pure = all(t.abi == "none" and t.platform == "any" for t in tags)
            if wanted and not pure and not any(t.interpreter == wanted for t in tags):
                found.append(f"{path.name} is not for python {job.python} (job {job.id})")
            if not wanted and not pure:
                found.append(f"{path.name} is not a pure wheel, and job {job.id} is noarch")
            elif wanted and not pure:
                unfit = wheel_repair.unfit_for(path.name, job.subdir, baseline)
                if unfit:
                    found.append(f"{unfit} (job {job.id} builds for {job.subdir})")
        else:
            found.append(f"{path.name} is neither a conda package nor a wheel")
    return found


def notes_of(job: Job, record: dict[str, Any]) -> list[str]:
    """What the reviewer should know of how a job's outputs were made, from its build
    record: cross-compiled (its tests not run), wheels left out of the pip view and why."""
    notes = []
    built_on = record.get("build_platform")
    if job.subdir != NOARCH and built_on and built_on != job.subdir:
        notes.append(
            f"cross-compiled for {job.subdir} on {built_on}: its tests were not run (they need "
            "the target's machine)"
        )
    refused = record.get("refused_wheels") or {}
    notes += [f"{name} is not published to pip: {why}" for name, why in sorted(refused.items())]
    return notes


def accept(
    home: Home,
    channels: Channels,
    jobs: JobBook,
    book: RecipeBook,
    job_id: int,
    holder: str,
    agent: str,
    record: dict[str, Any],
    files: Sequence[Path],
) -> Accepted:
    """Verify the outputs `files` of job `job_id`, uploaded by `agent` of `holder` with its
    build `record`, and publish them; JobRefused (not held) or OutputsRefused (verification
    failed: the job ends failed, the reason in its log) otherwise."""
    job = jobs.held(job_id, holder, agent)  # not held: refused before anything is read
    recipe = book.get(job.recipe)
    settings = home.bridge
    found = problems(
        job,
        recipe.approved_sha256,
        record,
        files,
        wheel_repair.Baseline(settings.manylinux_glibc_minor, settings.macos),
    )
    packages = [p for p in files if p.name.endswith(CONDA_SUFFIXES)]
    if not found:
        mirrors = upstream_locations(settings.upstream_conda)
        if job.subdir == NOARCH:  # every configured target an upstream has a python for
            configured = targets([s for s in settings.platforms if s != NOARCH], settings.python3s)
            upstream = CondaUpstream(mirrors, [t.subdir for t in configured]) if mirrors else None
            wanted = [t for t in configured if upstream is not None and upstream.has_python(t)]
        else:
            wanted = [Target(job.subdir, job.python)]
        report = check_installable(
            packages,
            [channels.layout(job.channel).conda_dir, *mirrors],
            wanted,
            baseline=Baseline.of_site(settings.manylinux_glibc_minor, settings.macos),
            work_dir=home.cache_dir,
        )
        found += [f"not installable: {verdict}" for verdict in report.failures[:3]]
    with jobs.db.session() as session:
        session.add(BuildRecordRow(job=job.id, agent=agent, accepted=not found, record=record))
    if not found:
        made = Provenance("recipe", source_filename(recipe.path.read_text("utf-8"), recipe.version))
        # a wheel an earlier build of the version published stays; so do the packages of an
        # earlier attempt of this job that did publish (a rebuild's bytes differ)
        fresh = [
            p
            for p in files
            if not (channels.has_file(job.channel, p.name, made if p in packages else None))
        ]
        if fresh:
            _published, refused = channels.publish_many(
                job.channel, fresh, uploaded_by="build", provenance=dict.fromkeys(packages, made)
            )
            found += [f"refused by the channel: {why}" for _path, why in refused]
    if found:
        reason = "; ".join(found)
        jobs.end(job.id, "failed", reason=reason)
        record_outcome(jobs, book, job.recipe)
        raise OutputsRefused(f"job {job.id}: nothing was published: {reason}")
    ended = jobs.end(job.id, "succeeded", note="; ".join(notes_of(job, record)))
    record_outcome(jobs, book, job.recipe)
    return Accepted(ended, tuple(p.name for p in files))
