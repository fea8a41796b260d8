"""The database: channels and their bases, published files, publish intents, users, groups,
API tokens, channel permissions and project owners (SQLAlchemy; SQLite by default,
PostgreSQL through psycopg 3).

Each layer declares its own tables on the shared `Base` (the bridge's recipes, requests
and audit trail are in `drawbridge.bridge.records`). The schema itself is Alembic's: opening
a `Database` upgrades it to the newest migration first (`drawbridge.channel.schema`), so a
change to a table here needs a migration in `channel/migrations/versions/` too
(`tests/http/test_migrations.py` fails until the two agree).
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from packaging.utils import NormalizedName

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    TypeDecorator,
    create_engine,
    event,
)
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Mapper,
    Session,
    mapped_column,
    sessionmaker,
)

from drawbridge.channel.errors import DatabaseUnavailable, ReadOnlyReplica, ValueRefused
from drawbridge.channel.kinds import FileKind, IntentState, MadeHow, PackageType
from drawbridge.channel.locks import AdvisoryLocks, FileLocks, Locks
from drawbridge.channel.schema import check_at_head, upgrade

#: the longest channel name: `owner/name`, each part at most 64 characters
CHANNEL_NAME_LENGTH = 129


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A moment, always read back as an aware UTC datetime: SQLite keeps no zone (and gives
    naive values back), PostgreSQL answers in the session's zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    pass


class ChannelRow(Base):
    """A channel: one conda channel and one pip index under the same name (`name` or
    `owner/name`)."""

    __tablename__ = "channels"
    name: Mapped[str] = mapped_column(String(CHANNEL_NAME_LENGTH), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: "standard" (nothing deleted), "immutable" (nor moved out) or "volatile" (deletable);
    #: see `drawbridge.channel.mutability`
    mutability: Mapped[str] = mapped_column(String(20), default="standard")


class ChannelBaseRow(Base):
    """One base of a channel: another channel, or `upstream:<mirror>`, at a position in the
    channel's ordered list (0 is consulted first, after the channel itself)."""

    __tablename__ = "channel_bases"
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    base: Mapped[str] = mapped_column(String(CHANNEL_NAME_LENGTH + 9))  # "upstream:" + name


class DistributionRow(Base):
    """A wheel or sdist in a channel's pip view, with the metadata the indexes need."""

    __tablename__ = "distributions"
    __table_args__ = (UniqueConstraint("channel", "filename"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"), index=True)
    project: Mapped[NormalizedName] = mapped_column(String(200), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(300))
    packagetype: Mapped[PackageType] = mapped_column(String(20))
    python_version: Mapped[str] = mapped_column(String(50))  # wheel python tag, or "source"
    sha256: Mapped[str] = mapped_column(String(64))
    md5: Mapped[str] = mapped_column(String(32))
    blake2b_256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    requires_python: Mapped[str | None] = mapped_column(String(200), nullable=True)
    metadata_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    core_metadata: Mapped[dict[str, Any]] = mapped_column(JSON)  # parsed METADATA/PKG-INFO fields
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked_reason: Mapped[str] = mapped_column(Text, default="")
    uploaded_by: Mapped[str] = mapped_column(String(100), default="")
    upload_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class HeldFileRow(Base):
    """A file policy kept from a channel (`channel.held`): where it waits, why, and what a
    maintainer decided. Accepting it publishes it; the row stays as the record."""

    __tablename__ = "held_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(CHANNEL_NAME_LENGTH), index=True)
    filename: Mapped[str] = mapped_column(String(300))
    project: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    reasons: Mapped[list[str]] = mapped_column(JSON)  # one line per reason
    advisories: Mapped[list[str]] = mapped_column(JSON, default=list)  # advisory ids among them
    source: Mapped[str] = mapped_column(String(300), default="")  # "bundle <id>", "bridge"
    made_how: Mapped[str] = mapped_column(String(20), default="")
    made_from: Mapped[str] = mapped_column(String(300), default="")
    held_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: "held", "accepted" (and published) or "rejected"
    state: Mapped[str] = mapped_column(String(20), default="held")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    comment: Mapped[str] = mapped_column(Text, default="")


class MissRow(Base):
    """How often pip, uv or conda asked a channel for a project it does not have (never
    who asked): the most wanted missing projects."""

    __tablename__ = "misses"
    channel: Mapped[str] = mapped_column(String(CHANNEL_NAME_LENGTH), primary_key=True)
    project: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    first_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CondaPackageRow(Base):
    """A conda package file in a channel's conda view."""

    __tablename__ = "conda_packages"
    __table_args__ = (UniqueConstraint("channel", "subdir", "filename"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"), index=True)
    subdir: Mapped[str] = mapped_column(String(40))
    filename: Mapped[str] = mapped_column(String(300))
    name: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str] = mapped_column(String(100))
    build: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(100), default="")
    upload_time: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: how the package was made, "" if it was published before Drawbridge recorded it
    made_how: Mapped[MadeHow | Literal[""]] = mapped_column(String(20), default="upload")
    #: the wheel or sdist it was made from (its file name), "" for an upload
    made_from: Mapped[str] = mapped_column(String(300), default="")


class PublishIntentRow(Base):
    """A file a publish is placing: written before the file is placed ("placing"), moved to
    "recorded" in the transaction that records the file, and deleted once the indexes show
    it; or a file being removed ("removed": unrecorded, its file perhaps still there). A crash
    leaves the row behind, and `recovery` finishes or undoes what it says."""

    __tablename__ = "publish_intents"
    __table_args__ = (UniqueConstraint("channel", "path"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"), index=True)
    path: Mapped[str] = mapped_column(String(400))  # relative to the channel's folder
    companions: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. the .metadata file
    sha256: Mapped[str] = mapped_column(String(64))
    kind: Mapped[FileKind] = mapped_column(String(10))
    touches: Mapped[str] = mapped_column(String(200))  # the project, or the conda subdir
    state: Mapped[IntentState] = mapped_column(String(20), default="placing")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PromotionRow(Base):
    """A promotion under way: written (with its audit row) before any file is copied, deleted
    once every file is in the target and, for a move, out of the source. A crash leaves the
    row behind, and `Channels.recover` runs the promotion again to its end (it is idempotent)."""

    __tablename__ = "promotions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(ForeignKey("channels.name"))
    target: Mapped[str] = mapped_column(ForeignKey("channels.name"))
    move: Mapped[bool] = mapped_column(Boolean, default=False)
    files: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON
    )  # [{"kind", "subdir", "filename", "sha256"}]
    user: Mapped[str] = mapped_column(String(100))
    comment: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


#: the longest user or group name
ACCOUNT_NAME_LENGTH = 100
#: the longest principal: `group:` or `user:` and a name, or `:authenticated:`
PRINCIPAL_LENGTH = 110


class UserRow(Base):
    """A person or an account (a CI robot) that tokens belong to. `primary_group` owns the
    projects the user is the first to upload to a channel (the user alone without one)."""

    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(ACCOUNT_NAME_LENGTH), primary_key=True)
    primary_group: Mapped[str | None] = mapped_column(
        ForeignKey("groups.name"), nullable=True, default=None
    )
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupRow(Base):
    """A named set of users (devs, qa, leads) that channel permissions and projects name."""

    __tablename__ = "groups"
    name: Mapped[str] = mapped_column(String(ACCOUNT_NAME_LENGTH), primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class GroupMemberRow(Base):
    """One user in one group."""

    __tablename__ = "group_members"
    group: Mapped[str] = mapped_column(ForeignKey("groups.name"), primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name"), primary_key=True)


class TokenRow(Base):
    """An API token of a user; only its sha256 is stored, the token itself is shown once.
    `channels` (None: every channel) and `role` limit what it may do; past `expires` it is
    refused."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(ForeignKey("users.name"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    channels: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=None)
    expires: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True, default=None)
    #: the subdirs a builder token may build for (None: every one)
    platforms: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=None)


class ChannelPermissionRow(Base):
    """One principal allowed one action (`read`, `upload`, `review`) on one channel. A
    channel with no row for an action keeps the server-wide default for it."""

    __tablename__ = "channel_permissions"
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"), primary_key=True)
    action: Mapped[str] = mapped_column(String(10), primary_key=True)
    principal: Mapped[str] = mapped_column(String(PRINCIPAL_LENGTH), primary_key=True)


class ProjectOwnerRow(Base):
    """Who may add files to a project (PEP 503 name) in a channel: a principal, recorded at
    the project's first upload and changed by the channel's reviewers."""

    __tablename__ = "project_owners"
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"), primary_key=True)
    project: Mapped[NormalizedName] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(PRINCIPAL_LENGTH))
    since: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def check_values(row: Base) -> None:
    """ValueRefused if a text value of `row` is longer than its column or holds a NUL:
    PostgreSQL refuses both, so they are refused on SQLite too, and before the database
    is asked (an event runs this on every insert and update; callers may run it first)."""
    for column in row.__table__.columns:
        value = getattr(row, column.key, None)
        if not isinstance(value, str):
            continue
        length = getattr(column.type, "length", None)
        if length is not None and len(value) > length:
            shown = value[:60] + ("…" if len(value) > 60 else "")
            raise ValueRefused(
                f"its {column.key} is {len(value)} characters long, more than the {length} "
                f"Drawbridge keeps: {shown!r}"
            )
        if "\x00" in value:
            raise ValueRefused(f"its {column.key} holds a NUL character: {value[:60]!r}")


@event.listens_for(Base, "before_insert", propagate=True)
@event.listens_for(Base, "before_update", propagate=True)
def _check_before_writing(_mapper: Mapper[Base], _connection: Connection, row: Base) -> None:
    check_values(row)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def database_url(url: str) -> str:
    """`url` with a driver: `postgresql://` and `postgres://` mean psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _dispose(engine: Engine, locks: Locks) -> None:
    engine.dispose()
    locks.close()


class Database:
    """An engine and a session factory for one database URL; on open, the schema is
    upgraded to the newest migration (one process at a time; see `schema.upgrade`).

    With `replica_of` (the primary's URL) the database is a read-only hot standby: it is
    not upgraded (the primary's upgrade reaches it by replication) but checked to be at
    this Drawbridge's schema, and every change asked of a session is refused with
    ReadOnlyReplica naming the primary, before the standby would refuse it less clearly.
    """

    def __init__(self, url: str, replica_of: str = "") -> None:
        self.url = database_url(url)
        self.replica_of = replica_of
        if make_url(self.url).get_backend_name() == "sqlite":
            self.engine: Engine = create_engine(self.url)
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True)
        try:
            #: the migrations this open applied (usually none)
            self.upgraded = check_at_head(self.engine) if replica_of else upgrade(self.engine)
        except OperationalError as error:
            self.engine.dispose()
            shown = self.engine.url.render_as_string(hide_password=True)
            raise DatabaseUnavailable(
                f"cannot open the database {shown}: {str(error.orig).strip()}; check "
                "database_url in drawbridge.toml and that the database server is up"
            ) from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: the home's exclusive locks: lock files with SQLite (one box), advisory locks with
        #: PostgreSQL (every server sharing the database: `channel.locks`)
        self.locks: Locks = (
            FileLocks() if self.engine.dialect.name == "sqlite" else AdvisoryLocks(self.url)
        )
        if replica_of:
            event.listen(self._sessions, "before_flush", self._refuse_flush)
            event.listen(self._sessions, "do_orm_execute", self._refuse_change)
        # a Database dropped unclosed closes its connections (psycopg warns of any left
        # for the garbage collector)
        self._finalizer = weakref.finalize(self, _dispose, self.engine, self.locks)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        with self._sessions() as session:
            with session.begin():
                yield session

    def close(self) -> None:
        self._finalizer()

    def refuse(self, what: str = "a change") -> ReadOnlyReplica:
        """The error a replica answers a change with: where to make it instead."""
        return ReadOnlyReplica(
            f"this server is a read-only replica of {self.replica_of}: {what} is made on the "
            f"primary, {self.replica_of}, and reaches the replica from there"
        )

    def _refuse_flush(self, session: Session, _context, _instances) -> None:  # type: ignore[no-untyped-def]
        if session.new or session.dirty or session.deleted:
            raise self.refuse()

    def _refuse_change(self, state) -> None:  # type: ignore[no-untyped-def]
        if not state.is_select:
            raise self.refuse()
