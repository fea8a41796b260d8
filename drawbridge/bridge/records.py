"""The bridge's own tables: recipes under review, their build jobs and the agents that
build them, bridging requests and the audit trail.

Declared on the channel layer's shared SQLAlchemy `Base`; like every table, they are made
and changed by the migrations in `drawbridge/channel/migrations/versions/`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from packaging.utils import NormalizedName
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from drawbridge.channel.database import Base, UTCDateTime, utcnow

#: where a recipe stands in review, then after its build
RecipeState = Literal["pending", "approved", "rejected", "built", "failed"]
#: where a requested package was missing
RequestKind = Literal["conda", "pip"]
#: where a request stands; `failed`: approved, but bridging could not provide it
RequestState = Literal["pending", "approved", "rejected", "bridged", "failed"]
#: where a build job stands: waiting, held by an agent (claimed, then running once it
#: started building), or ended
JobState = Literal["queued", "claimed", "running", "succeeded", "failed", "cancelled"]
#: the states a job does not leave by itself
ENDED: tuple[JobState, ...] = ("succeeded", "failed", "cancelled")


class RecipeRow(Base):
    """A recipe in the home's recipes/ folder and where it stands in review."""

    __tablename__ = "recipes"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # conda name
    project: Mapped[NormalizedName] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    state: Mapped[RecipeState] = mapped_column(String(20), default="pending")
    sha256: Mapped[str] = mapped_column(String(64))  # of recipe.yaml as last recorded
    curated: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_sha256: Mapped[str] = mapped_column(String(64), default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    needs_builder: Mapped[str] = mapped_column(String(200), default="")  # subdirs, comma-separated
    last_log: Mapped[str] = mapped_column(String(300), default="")
    updated: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BridgeRequestRow(Base):
    """A user's request to bridge a package an environment needs; a maintainer decides."""

    __tablename__ = "bridge_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[RequestKind] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(String(300))
    platforms: Mapped[str] = mapped_column(String(200), default="")  # comma-separated subdirs
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(300), default="")  # e.g. the environment file
    requested_by: Mapped[str] = mapped_column(String(100), default="anonymous")
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[RequestState] = mapped_column(String(20), default="pending")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    comment: Mapped[str] = mapped_column(Text, default="")


class AuditRow(Base):
    """One decision or action, kept for `drawbridge audit`."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    user: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="")


class BuildJobRow(Base):
    """One target (subdir × Python; noarch once) of an approved recipe, to be built by an
    agent: its state, the agent holding it and its lease, attempts, timings and its log."""

    __tablename__ = "build_jobs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipe: Mapped[str] = mapped_column(String(200), index=True)  # the recipe's conda name
    recipe_sha256: Mapped[str] = mapped_column(String(64))  # the approved bytes it builds
    channel: Mapped[str] = mapped_column(String(129))  # where its outputs are published
    subdir: Mapped[str] = mapped_column(String(20))
    python: Mapped[str] = mapped_column(String(10), default="")  # "" for noarch
    state: Mapped[JobState] = mapped_column(String(20), default="queued", index=True)
    agent: Mapped[str] = mapped_column(String(200), default="")  # the agent's own name
    holder: Mapped[str] = mapped_column(String(100), default="")  # the user of its token
    lease_expires: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    log: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")  # why it failed or was refused
    note: Mapped[str] = mapped_column(Text, default="")  # what a reviewer should know


class BuildRecordRow(Base):
    """What an agent said about a build it uploaded: agent, platform, tool versions,
    durations, input and output sha256s (JSON), kept whether or not it was accepted."""

    __tablename__ = "build_records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[int] = mapped_column(ForeignKey("build_jobs.id"), index=True)
    agent: Mapped[str] = mapped_column(String(200))
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class BuildAgentRow(Base):
    """An agent as last seen asking for work: which platforms and Pythons it builds."""

    __tablename__ = "build_agents"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    platforms: Mapped[str] = mapped_column(String(200))  # comma-separated subdirs
    pythons: Mapped[str] = mapped_column(String(200), default="")  # comma-separated
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
