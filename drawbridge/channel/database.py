"""The database: channels, published files and API tokens (SQLAlchemy; SQLite by default)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

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
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


class Base(DeclarativeBase):
    pass


class ChannelRow(Base):
    """A channel: one conda channel and one pip index under the same name."""

    __tablename__ = "channels"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DistributionRow(Base):
    """A wheel or sdist in a channel's pip view, with the metadata the indexes need."""

    __tablename__ = "distributions"
    __table_args__ = (UniqueConstraint("channel", "filename"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"), index=True)
    project: Mapped[str] = mapped_column(String(200), index=True)  # PEP 503-normalised
    display_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(100))
    filename: Mapped[str] = mapped_column(String(300))
    packagetype: Mapped[str] = mapped_column(String(20))  # bdist_wheel | sdist
    python_version: Mapped[str] = mapped_column(String(50))  # wheel python tag, or "source"
    sha256: Mapped[str] = mapped_column(String(64))
    md5: Mapped[str] = mapped_column(String(32))
    blake2b_256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    requires_python: Mapped[str | None] = mapped_column(String(200), nullable=True)
    metadata_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    core_metadata: Mapped[dict] = mapped_column(JSON)  # parsed METADATA/PKG-INFO fields
    yanked: Mapped[bool] = mapped_column(Boolean, default=False)
    yanked_reason: Mapped[str] = mapped_column(Text, default="")
    uploaded_by: Mapped[str] = mapped_column(String(100), default="")
    upload_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


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
    upload_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class TokenRow(Base):
    """An API token; only its sha256 is stored, the token itself is shown once."""

    __tablename__ = "tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class RecipeRow(Base):
    """A recipe in the home's recipes/ folder and where it stands in review."""

    __tablename__ = "recipes"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # conda name
    project: Mapped[str] = mapped_column(String(200))  # PEP 503 name
    version: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), default="pending")
    sha256: Mapped[str] = mapped_column(String(64))  # of recipe.yaml as last recorded
    curated: Mapped[bool] = mapped_column(Boolean, default=False)
    approved_sha256: Mapped[str] = mapped_column(String(64), default="")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    needs_builder: Mapped[str] = mapped_column(String(200), default="")  # subdirs, comma-separated
    last_log: Mapped[str] = mapped_column(String(300), default="")
    updated: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BridgeRequestRow(Base):
    """A user's request to bridge a package an environment needs; a maintainer decides."""

    __tablename__ = "bridge_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # "conda" or "pip": where it was missing
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(String(300))
    platforms: Mapped[str] = mapped_column(String(200), default="")  # comma-separated subdirs
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(300), default="")  # e.g. the environment file
    requested_by: Mapped[str] = mapped_column(String(100), default="anonymous")
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    decided_by: Mapped[str] = mapped_column(String(100), default="")
    comment: Mapped[str] = mapped_column(Text, default="")


class AuditRow(Base):
    """One decision or action, kept for `drawbridge audit`."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text, default="")


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """An engine and a session factory for one database URL; creates the schema on open."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        Base.metadata.create_all(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        with self._sessions() as session:
            with session.begin():
                yield session

    def close(self) -> None:
        self.engine.dispose()
