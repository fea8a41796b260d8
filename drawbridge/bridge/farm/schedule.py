"""A recipe's jobs: which targets an approved recipe needs, queued; and, as its jobs end,
the recipe's state, log and message worked out from all of them.

A noarch recipe needs one job; a native one a job per subdir of drawbridge.toml × Python 3
of drawbridge.toml. A noarch recipe whose build turned out platform-specific is built again
from the same approved bytes made native (`go_native`): its noarch job ends cancelled, with
the note for the reviewer, and native jobs take its place.

The recipe's record (`RecipeBook.record_build`) follows its jobs of the approved bytes:
failed if any failed (naming the targets, each with its reason), built once every job a
builder asked for has succeeded; the subdirs whose jobs no agent has taken are what it
"needs a builder for". Its log file (`recipes/<name>/logs/`) is its jobs' logs in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ruamel.yaml import YAML

from drawbridge.bridge.farm.jobs import Job, JobBook
from drawbridge.bridge.recipes.book import Recipe, RecipeBook, RecipeError
from drawbridge.bridge.recipes.target_build import NOARCH, failure_message
from drawbridge.channel.storage import write_text_atomic


def is_noarch(text: str) -> bool:
    """Whether the recipe says noarch; a recipe that does not parse gets one job, whose
    build says why."""
    try:
        document = YAML(typ="safe").load(text) or {}
        return bool((document.get("build") or {}).get("noarch"))
    except Exception:
        return True


def targets_of(
    noarch: bool, platforms: Sequence[str], pythons: Sequence[str]
) -> list[tuple[str, str]]:
    """(subdir, python) for each job a recipe needs; python "" for noarch."""
    if noarch:
        return [(NOARCH, "")]
    return [(subdir, python) for subdir in platforms if subdir != NOARCH for python in pythons]


def check_approved(recipe: Recipe) -> str:
    """The recipe's approved text; RecipeError unless its current bytes are the approved ones."""
    text = recipe.path.read_text("utf-8")
    if (
        recipe.state not in ("approved", "built", "failed")
        or recipe.sha256 != recipe.approved_sha256
    ):
        raise RecipeError(
            f"{recipe.name}: the recipe is {recipe.state} and its bytes are not the approved ones; "
            "a maintainer must approve it first (`drawbridge recipe approve`)"
        )
    return text


def queue_recipe(
    jobs: JobBook,
    recipe: Recipe,
    channel: str,
    platforms: Sequence[str],
    pythons: Sequence[str],
    retry_failed: bool = False,
) -> list[Job]:
    """Queue the jobs of the recipe's approved bytes (those already there are kept; with
    `retry_failed` failed ones are queued again)."""
    text = check_approved(recipe)
    if any(j.note and j.state == "cancelled" for j in jobs.jobs(recipe.name, recipe.sha256)):
        noarch = False  # built native already: its noarch build made platform-specific files
    else:
        noarch = is_noarch(text)
    return jobs.queue(
        recipe.name, recipe.sha256, channel, targets_of(noarch, platforms, pythons), retry_failed
    )


def go_native(
    jobs: JobBook,
    job: Job,
    found: Sequence[str],
    platforms: Sequence[str],
    pythons: Sequence[str],
) -> list[Job]:
    """A noarch job's build made platform-specific files (`found`): end it with the note,
    queue the native jobs of the same bytes."""
    note = (
        f"built per platform and Python: the noarch recipe's build made platform-specific "
        f"files ({', '.join(found[:3])}); make the recipe native (no noarch, a compiler in "
        "build) to say so"
    )
    jobs.end(
        job.id,
        "cancelled",
        reason="built per platform and Python instead",
        log=f"\n# {note}\n",
        note=note,
    )
    return jobs.queue(
        job.recipe, job.recipe_sha256, job.channel, targets_of(False, platforms, pythons)
    )


@dataclass(frozen=True)
class Outcome:
    """Where a recipe's build stands, from the jobs of its approved bytes."""

    name: str
    jobs: tuple[Job, ...]
    present: frozenset[str]  # subdirs some agent builds for lately

    def _label(self, job: Job) -> str:
        subdirs = {j.subdir for j in self.jobs if j.ended or j.state != "queued"}
        if job.subdir == NOARCH:
            return NOARCH
        return f"python {job.python}" if len(subdirs) <= 1 else job.target

    @property
    def live(self) -> tuple[Job, ...]:
        return tuple(j for j in self.jobs if not (j.state == "cancelled" and j.note))

    @property
    def failed(self) -> dict[str, str]:
        return {self._label(j): j.reason for j in self.live if j.state in ("failed", "cancelled")}

    @property
    def succeeded(self) -> list[str]:
        return [self._label(j) for j in self.live if j.state == "succeeded"]

    @property
    def needs_builder(self) -> list[str]:
        """Subdirs whose jobs wait and no agent builds for."""
        waiting = [
            j.subdir for j in self.live if j.state == "queued" and j.subdir not in self.present
        ]
        return list(dict.fromkeys(waiting))

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def result(self) -> str:
        """The result in a word: failed, built (something was, nothing failed) or waiting."""
        if self.failed:
            return "failed"
        return "built" if self.succeeded else "waiting"

    @property
    def message(self) -> str:
        return failure_message(self.failed, self.succeeded) if self.failed else ""

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(j.note for j in self.jobs if j.note))

    @property
    def running(self) -> bool:
        return any(j.state in ("claimed", "running") for j in self.live)


def outcome(jobs: JobBook, recipe: Recipe) -> Outcome:
    return Outcome(
        recipe.name,
        tuple(jobs.jobs(recipe.name, recipe.approved_sha256 or recipe.sha256)),
        frozenset(jobs.platforms_with_builders()),
    )


def record_outcome(jobs: JobBook, book: RecipeBook, name: str) -> Outcome:
    """Write the recipe's log from its jobs' logs and record where its build stands."""
    recipe = book.get(name)
    now = outcome(jobs, recipe)
    log = recipe.folder / "logs" / f"{recipe.name}-{recipe.approved_sha256[:12]}.log"
    write_text_atomic(
        log,
        f"# building {recipe.name} {recipe.version} sha256={recipe.approved_sha256}\n"
        + "".join(f"\n# job {j.id} ({j.target}): {j.state}\n{j.log}" for j in now.jobs),
    )
    ended = [j for j in now.live if j.ended]
    if ended and not now.running:
        book.record_build(name, now.ok, log, ", ".join(now.needs_builder), now.message)
    return now
