"""Build jobs: one per target of an approved recipe, queued, claimed by an agent under a
lease, kept alive by its heartbeats, ended; the agents as last seen.

A job is queued for each target (subdir × Python; noarch once) of the approved bytes of a
recipe (`queue`). An agent claims the oldest queued job whose subdir its token may build
and whose Python it has (`claim`), holding it under a lease that each heartbeat extends;
a job whose lease ran out is queued again at the next claim or listing (`requeue_expired`),
until it has been tried `max_attempts` times: then it fails with its last log. A job the
agent reports failed stays failed (a build that fails once fails again) until `retry`.

Who may act is decided here too, from the holder and agent names the caller checked the
token for: only the agent holding an unexpired lease may heartbeat, log, fail or finish a
job (`held`); anything else is a `JobRefused` naming what is wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.records import ENDED, BuildAgentRow, BuildJobRow, JobState
from drawbridge.channel.database import Database, utcnow

#: how long a claim holds without a heartbeat; agents beat every HEARTBEAT_SECONDS
LEASE_SECONDS = 120
HEARTBEAT_SECONDS = 20
#: how many times a job is handed out before a lost lease fails it
MAX_ATTEMPTS = 3
#: an agent seen within this long is taken to be there, for "waiting for a builder"
AGENT_PRESENT_SECONDS = 300
#: most log kept per job (the tail; a runaway build cannot fill the database)
MOST_LOG = 2_000_000


class JobError(BridgeError):
    """A build job that cannot be found or acted on."""


class UnknownJob(JobError):
    """No build job of that number."""


class JobRefused(JobError):
    """An agent acting on a job it does not hold, or a result the server will not accept."""


@dataclass(frozen=True)
class Job:
    """A build job as the database has it."""

    id: int
    recipe: str
    recipe_sha256: str
    channel: str
    subdir: str
    python: str
    state: JobState
    agent: str
    holder: str
    lease_expires: dt.datetime | None
    attempts: int
    created: dt.datetime
    claimed_at: dt.datetime | None
    finished_at: dt.datetime | None
    log: str
    reason: str
    note: str

    @property
    def target(self) -> str:
        """ "linux-64 python 3.12", or "noarch"."""
        return f"{self.subdir} python {self.python}" if self.python else self.subdir

    @property
    def ended(self) -> bool:
        return self.state in ENDED

    @property
    def seconds(self) -> float | None:
        """How long the last attempt took (so far, if it still runs)."""
        if self.claimed_at is None:
            return None
        end = self.finished_at or utcnow()
        return (end - self.claimed_at).total_seconds()


@dataclass(frozen=True)
class Agent:
    """An agent as last seen asking for work."""

    name: str
    holder: str
    platforms: tuple[str, ...]
    pythons: tuple[str, ...]
    last_seen: dt.datetime


def _job(row: BuildJobRow) -> Job:
    return Job(**{name: getattr(row, name) for name in Job.__dataclass_fields__})


class JobBook:
    """The build jobs of one home."""

    def __init__(
        self,
        database: Database,
        lease_seconds: float = LEASE_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.db = database
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts

    # -- queueing ---------------------------------------------------------------------------

    def queue(
        self,
        recipe: str,
        sha256: str,
        channel: str,
        targets: Sequence[tuple[str, str]],
        retry_failed: bool = False,
    ) -> list[Job]:
        """The jobs of `recipe`'s approved bytes `sha256` for `targets` ((subdir, python),
        python "" for noarch), queued where none exists yet; jobs still waiting for other
        bytes are cancelled (the recipe changed). With `retry_failed`, failed ones are
        queued again. Returns every job of these bytes and targets."""
        with self.db.session() as session:
            for row in session.scalars(
                select(BuildJobRow).where(
                    BuildJobRow.recipe == recipe,
                    BuildJobRow.recipe_sha256 != sha256,
                    BuildJobRow.state.not_in(ENDED),
                )
            ):
                row.state, row.finished_at = "cancelled", utcnow()
                row.reason = "the recipe changed: its new bytes get their own jobs"
            existing = {
                (row.subdir, row.python): row
                for row in session.scalars(
                    select(BuildJobRow)
                    .where(
                        BuildJobRow.recipe == recipe,
                        BuildJobRow.recipe_sha256 == sha256,
                        BuildJobRow.channel == channel,
                    )
                    .order_by(BuildJobRow.id)
                )
            }
            for subdir, python in targets:
                known = existing.get((subdir, python))
                if known is None:
                    made = BuildJobRow(
                        recipe=recipe,
                        recipe_sha256=sha256,
                        channel=channel,
                        subdir=subdir,
                        python=python,
                        state="queued",
                        agent="",
                        holder="",
                        attempts=0,
                        created=utcnow(),
                        log="",
                        reason="",
                        note="",
                    )
                    session.add(made)
                    existing[(subdir, python)] = made
                elif known.state == "cancelled" or (retry_failed and known.state == "failed"):
                    _requeue(known, attempts=0)
            session.flush()
            return [_job(existing[target]) for target in targets]

    def retry(self, job_id: int) -> Job:
        """Queue an ended job again, its attempts counted afresh."""
        with self.db.session() as session:
            row = self._row(session, job_id)
            if row.state not in ("failed", "cancelled"):
                raise JobError(f"job {job_id} is {row.state}; only failed or cancelled jobs retry")
            _requeue(row, attempts=0)
            return _job(row)

    def cancel(self, job_id: int, reason: str = "cancelled") -> Job:
        """End a job that has not ended; its agent is told to stop at its next heartbeat."""
        with self.db.session() as session:
            row = self._row(session, job_id)
            if row.state in ENDED:
                raise JobError(f"job {job_id} has already ended ({row.state})")
            row.state, row.reason, row.finished_at = "cancelled", reason, utcnow()
            return _job(row)

    def requeue_expired(self) -> int:
        """Queue again the held jobs whose lease ran out (their agent stopped beating), or
        fail them with their last log once tried `max_attempts` times; how many."""
        now = utcnow()
        with self.db.session() as session:
            rows = list(
                session.scalars(
                    select(BuildJobRow).where(
                        BuildJobRow.state.in_(("claimed", "running")),
                        BuildJobRow.lease_expires < now,
                    )
                )
            )
            for row in rows:
                lost = f"agent {row.agent} stopped answering (its lease ran out)"
                row.log = _cut(f"{row.log}\n# {lost}\n")
                if row.attempts >= self.max_attempts:
                    row.state, row.finished_at = "failed", now
                    row.reason = f"{lost}; tried {row.attempts} times"
                else:
                    _requeue(row, attempts=row.attempts)
                    row.reason = lost
            return len(rows)

    # -- agents -----------------------------------------------------------------------------

    def claim(
        self,
        holder: str,
        agent: str,
        platforms: Sequence[str],
        pythons: Sequence[str],
        recipes: Sequence[str] = (),
    ) -> Job | None:
        """Hand `agent` (of the token's user `holder`) the oldest queued job for one of
        `platforms` (the caller has checked the token may build them) and, unless noarch,
        one of `pythons` (none: any), of `recipes` if any are named; None if there is none."""
        self.requeue_expired()
        self._seen(holder, agent, platforms, pythons)
        while True:
            with self.db.session() as session:
                query = select(BuildJobRow.id).where(
                    BuildJobRow.state == "queued", BuildJobRow.subdir.in_(list(platforms))
                )
                if pythons:
                    query = query.where(BuildJobRow.python.in_(["", *pythons]))
                if recipes:
                    query = query.where(BuildJobRow.recipe.in_(list(recipes)))
                found = session.scalars(query.order_by(BuildJobRow.id).limit(1)).first()
                if found is None:
                    return None
                now = utcnow()
                # only if still queued: two agents asking at once get different jobs
                taken = session.execute(
                    update(BuildJobRow)
                    .where(BuildJobRow.id == found, BuildJobRow.state == "queued")
                    .values(
                        state="claimed",
                        agent=agent,
                        holder=holder,
                        claimed_at=now,
                        heartbeat_at=now,
                        finished_at=None,
                        lease_expires=now + self.lease,
                        attempts=BuildJobRow.attempts + 1,
                    )
                    .returning(BuildJobRow.id)
                ).scalar_one_or_none()
                if taken is not None:
                    row = self._row(session, found)
                    row.log = _cut(f"{row.log}# attempt {row.attempts}: claimed by {agent}\n")
                    return _job(row)

    def _seen(
        self, holder: str, agent: str, platforms: Sequence[str], pythons: Sequence[str]
    ) -> None:
        with self.db.session() as session:
            row = session.get(BuildAgentRow, agent) or BuildAgentRow(name=agent)
            row.holder, row.last_seen = holder, utcnow()
            row.platforms, row.pythons = ",".join(platforms), ",".join(pythons)
            session.add(row)

    def held(self, job_id: int, holder: str, agent: str) -> Job:
        """The job, if `agent` of `holder` holds it under an unexpired lease; JobRefused
        saying why not."""
        with self.db.session() as session:
            return _job(self._held(session, job_id, holder, agent))

    def _held(self, session, job_id: int, holder: str, agent: str) -> BuildJobRow:  # type: ignore[no-untyped-def]
        row = self._row(session, job_id)
        if row.state not in ("claimed", "running") or (row.holder, row.agent) != (holder, agent):
            now = f"{row.state}, held by {row.agent}" if row.agent else row.state
            raise JobRefused(
                f"job {job_id} is not held by agent {agent!r} of {holder!r} (it is {now}); "
                "claim a job before building or uploading"
            )
        if row.lease_expires is not None and row.lease_expires < utcnow():
            raise JobRefused(
                f"the lease of job {job_id} ran out at {row.lease_expires:%H:%M:%S} UTC; "
                "the job goes back to the queue: heartbeat more often than every "
                f"{self.lease.total_seconds():.0f} s"
            )
        return row

    def heartbeat(self, job_id: int, holder: str, agent: str, log: str = "") -> bool:
        """Extend the lease and append `log`; False when the agent should stop (the job was
        cancelled or handed to another agent)."""
        with self.db.session() as session:
            row = self._row(session, job_id)
            if row.state not in ("claimed", "running") or (row.holder, row.agent) != (
                holder,
                agent,
            ):
                return False
            if row.lease_expires is not None and row.lease_expires < utcnow():
                return False
            now = utcnow()
            row.state, row.heartbeat_at, row.lease_expires = "running", now, now + self.lease
            if log:
                row.log = _cut(row.log + log)
            return True

    def fail(self, job_id: int, holder: str, agent: str, reason: str, log: str = "") -> Job:
        """The holding agent says the build failed: the job ends failed with `reason`."""
        with self.db.session() as session:
            row = self._held(session, job_id, holder, agent)
            row.log = _cut(row.log + log)
            row.state, row.reason, row.finished_at = "failed", reason, utcnow()
            return _job(row)

    def end(
        self, job_id: int, state: JobState, reason: str = "", log: str = "", note: str = ""
    ) -> Job:
        """End a job (the server's verdict on what was uploaded): `succeeded`, or `failed`
        with `reason` (appended to the log too, so the log says why nothing was published)."""
        with self.db.session() as session:
            row = self._row(session, job_id)
            row.log = _cut(
                row.log + log + (f"\n# refused: {reason}\n" if state == "failed" and reason else "")
            )
            row.state, row.reason, row.finished_at = state, reason, utcnow()
            if note:
                row.note = note
            return _job(row)

    # -- reading ----------------------------------------------------------------------------

    def _row(self, session: Session, job_id: int) -> BuildJobRow:
        row = session.get(BuildJobRow, job_id)
        if row is None:
            raise UnknownJob(f"no build job {job_id}; `drawbridge jobs list` shows them")
        return row

    def get(self, job_id: int) -> Job:
        with self.db.session() as session:
            return _job(self._row(session, job_id))

    def jobs(
        self, recipe: str | None = None, sha256: str | None = None, states: Sequence[str] = ()
    ) -> list[Job]:
        """Jobs, oldest first: of `recipe` (and its bytes `sha256`), in `states`."""
        self.requeue_expired()
        query = select(BuildJobRow).order_by(BuildJobRow.id)
        if recipe is not None:
            query = query.where(BuildJobRow.recipe == recipe)
        if sha256 is not None:
            query = query.where(BuildJobRow.recipe_sha256 == sha256)
        if states:
            query = query.where(BuildJobRow.state.in_(list(states)))
        with self.db.session() as session:
            return [_job(row) for row in session.scalars(query)]

    def agents(self) -> list[Agent]:
        with self.db.session() as session:
            return [
                Agent(
                    row.name,
                    row.holder,
                    tuple(p for p in row.platforms.split(",") if p),
                    tuple(p for p in row.pythons.split(",") if p),
                    row.last_seen,
                )
                for row in session.scalars(select(BuildAgentRow).order_by(BuildAgentRow.name))
            ]

    def platforms_with_builders(self) -> set[str]:
        """The subdirs some agent asked to build for lately."""
        since = utcnow() - dt.timedelta(seconds=AGENT_PRESENT_SECONDS)
        return {p for agent in self.agents() if agent.last_seen >= since for p in agent.platforms}

    def waiting(self, job: Job, present: set[str] | None = None) -> str:
        """What a job waits for, in words: "waiting for a builder of win-64" when no agent
        for its platform asked lately, else "queued"; "" if it is not queued."""
        if job.state != "queued":
            return ""
        present = self.platforms_with_builders() if present is None else present
        return "queued" if job.subdir in present else f"waiting for a builder of {job.subdir}"


def _requeue(row: BuildJobRow, attempts: int) -> None:
    row.state, row.agent, row.holder, row.attempts = "queued", "", "", attempts
    row.lease_expires = row.heartbeat_at = row.finished_at = row.claimed_at = None
    row.reason = ""


def _cut(log: str) -> str:
    return log if len(log) <= MOST_LOG else "# (log cut)\n" + log[-MOST_LOG:]
