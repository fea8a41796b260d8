"""Bridging requests: users ask for a package an environment needs; maintainers decide.

A request is only a wish. Nothing crosses until a maintainer approves it (or `[policy]
auto_approve` does, for a project pip missed: `server/wanted.py`), and a recipe it leads
to still waits for its own review. The most wanted missing projects come from the
misses the server counts (`channel.misses`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

from packaging.utils import canonicalize_name
from sqlalchemy import select
from sqlalchemy.orm import Session

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.records import AuditRow, BridgeRequestRow, RequestKind, RequestState
from drawbridge.bridge.policy.holding import policy_of
from drawbridge.channel.database import Database
from drawbridge.channel.home import PolicySettings
from drawbridge.channel.misses import most_wanted
from drawbridge.channel.service import Channels

KINDS: tuple[RequestKind, ...] = get_args(RequestKind)
#: `failed`: approved, but bridging could not provide it (the comment says why)
STATES: tuple[RequestState, ...] = get_args(RequestState)


class UnknownRequest(BridgeError):
    """No request has that number."""


@dataclass(frozen=True)
class BridgeRequest:
    id: int
    kind: RequestKind
    name: str
    spec: str
    platforms: list[str]
    reason: str
    source: str
    requested_by: str
    state: RequestState
    decided_by: str
    comment: str

    @classmethod
    def of(cls, row: BridgeRequestRow) -> BridgeRequest:
        return cls(
            id=row.id,
            kind=row.kind,
            name=row.name,
            spec=row.spec,
            platforms=[p for p in row.platforms.split(",") if p],
            reason=row.reason,
            source=row.source,
            requested_by=row.requested_by,
            state=row.state,
            decided_by=row.decided_by,
            comment=row.comment,
        )


class RequestBook:
    """The requests of one home."""

    def __init__(self, database: Database) -> None:
        self.db = database

    def file(
        self,
        kind: str,
        name: str,
        spec: str,
        platforms: list[str],
        reason: str,
        source: str,
        user: str,
    ) -> BridgeRequest:
        """Record a request; one still pending for the same package gains the new platforms."""
        if kind not in KINDS:
            raise BridgeError(f"request kind must be one of {KINDS}, not {kind!r}")
        name = canonicalize_name(name) if kind == "pip" else name.lower()
        if not name or len(name) > 200 or len(spec) > 300:
            raise BridgeError("a request needs a package name (at most 200 characters) and a spec")
        with self.db.session() as session:
            row = session.scalars(
                select(BridgeRequestRow).where(
                    BridgeRequestRow.kind == kind,
                    BridgeRequestRow.name == name,
                    BridgeRequestRow.state == "pending",
                )
            ).first()
            if row is None:
                row = BridgeRequestRow(
                    kind=kind, name=name, spec=spec, reason=reason, source=source, requested_by=user
                )
                session.add(row)
            row.platforms = ",".join(
                sorted(set(row.platforms.split(",") if row.platforms else []) | set(platforms))
            )
            session.flush()
            session.add(
                AuditRow(
                    user=user,
                    action="request",
                    subject=name,
                    detail=f"#{row.id} {kind} {spec}: {reason}",
                )
            )
            return BridgeRequest.of(row)

    def all(self, state: str | None = None) -> list[BridgeRequest]:
        with self.db.session() as session:
            query = select(BridgeRequestRow).order_by(BridgeRequestRow.id)
            if state:
                query = query.where(BridgeRequestRow.state == state)
            return [BridgeRequest.of(row) for row in session.scalars(query)]

    def get(self, number: int) -> BridgeRequest:
        with self.db.session() as session:
            return BridgeRequest.of(_row(session, number))

    def set_state(
        self, number: int, state: RequestState, user: str, comment: str = ""
    ) -> BridgeRequest:
        """Record a decision or an outcome, and audit it."""
        assert state in STATES
        with self.db.session() as session:
            row = _row(session, number)
            row.state, row.decided_by = state, user
            row.comment = comment or row.comment
            session.add(
                AuditRow(
                    user=user,
                    action=f"request-{state}",
                    subject=row.name,
                    detail=f"#{number} {comment}",
                )
            )
            return BridgeRequest.of(row)


def _row(session: Session, number: int) -> BridgeRequestRow:
    row = session.get(BridgeRequestRow, number)
    if row is None:
        raise UnknownRequest(f"no bridging request #{number}; see `drawbridge request list`")
    return row


@dataclass(frozen=True)
class Wanted:
    """A project clients asked a channel for and did not find, and where it stands now."""

    channel: str
    project: str
    misses: int
    last_asked: str
    status: str  # "published now", "request #N <state>", "blocked by policy", "no request"


def most_wanted_projects(
    channels: Channels, policy: PolicySettings, limit: int = 50
) -> list[Wanted]:
    """The most missed projects, most wanted first, each with its status."""
    rules = policy_of(policy)
    requests: dict[str, BridgeRequest] = {}
    for item in RequestBook(channels.db).all():
        if item.kind == "pip":
            requests[item.name] = item  # the newest of each name wins
    found = []
    for row in most_wanted(channels.db, limit=limit):
        if row.channel in channels.names() and row.project in channels.projects(row.channel):
            status = "published now"
        elif row.project in requests:
            request = requests[row.project]
            status = f"request #{request.id} {request.state}"
        elif not rules.allows_project(row.project):
            status = "blocked by policy"
        else:
            status = "no request: `drawbridge bridge " + row.project + "`"
        found.append(
            Wanted(
                row.channel,
                row.project,
                row.count,
                row.last_seen.strftime("%Y-%m-%d %H:%M"),
                status,
            )
        )
    return found
