"""The schema of Drawbridge 0.1.0, which made its tables with `create_all` (no Alembic).

A database of that release already has these tables (or some of them: each layer made its
own when first used), so each table is created only where it is missing; a new database
gets them all. Either way the database is then at this revision.

Revision ID: 0001_baseline
Revises:
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def _moment() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _tables() -> dict[str, tuple[list[Any], list[str]]]:
    """Each table of 0.1.0: its columns and constraints, then its indexed columns."""
    return {
        "channels": (
            [
                sa.Column("name", sa.String(64), nullable=False),
                sa.Column("description", sa.Text(), nullable=False),
                sa.Column("created", _moment(), nullable=False),
                sa.PrimaryKeyConstraint("name"),
            ],
            [],
        ),
        "distributions": (
            [
                sa.Column("id", sa.Integer(), nullable=False),
                sa.Column("channel", sa.String(64), nullable=False),
                sa.Column("project", sa.String(200), nullable=False),
                sa.Column("display_name", sa.String(200), nullable=False),
                sa.Column("version", sa.String(100), nullable=False),
                sa.Column("filename", sa.String(300), nullable=False),
                sa.Column("packagetype", sa.String(20), nullable=False),
                sa.Column("python_version", sa.String(50), nullable=False),
                sa.Column("sha256", sa.String(64), nullable=False),
                sa.Column("md5", sa.String(32), nullable=False),
                sa.Column("blake2b_256", sa.String(64), nullable=False),
                sa.Column("size", sa.BigInteger(), nullable=False),
                sa.Column("requires_python", sa.String(200), nullable=True),
                sa.Column("metadata_sha256", sa.String(64), nullable=True),
                sa.Column("core_metadata", sa.JSON(), nullable=False),
                sa.Column("yanked", sa.Boolean(), nullable=False),
                sa.Column("yanked_reason", sa.Text(), nullable=False),
                sa.Column("uploaded_by", sa.String(100), nullable=False),
                sa.Column("upload_time", _moment(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
                sa.UniqueConstraint("channel", "filename"),
                sa.ForeignKeyConstraint(["channel"], ["channels.name"]),
            ],
            ["channel", "project"],
        ),
        "conda_packages": (
            [
                sa.Column("id", sa.Integer(), nullable=False),
                sa.Column("channel", sa.String(64), nullable=False),
                sa.Column("subdir", sa.String(40), nullable=False),
                sa.Column("filename", sa.String(300), nullable=False),
                sa.Column("name", sa.String(200), nullable=False),
                sa.Column("version", sa.String(100), nullable=False),
                sa.Column("build", sa.String(200), nullable=False),
                sa.Column("sha256", sa.String(64), nullable=False),
                sa.Column("size", sa.BigInteger(), nullable=False),
                sa.Column("uploaded_by", sa.String(100), nullable=False),
                sa.Column("upload_time", _moment(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
                sa.UniqueConstraint("channel", "subdir", "filename"),
                sa.ForeignKeyConstraint(["channel"], ["channels.name"]),
            ],
            ["channel", "name"],
        ),
        "publish_intents": (
            [
                sa.Column("id", sa.Integer(), nullable=False),
                sa.Column("channel", sa.String(64), nullable=False),
                sa.Column("path", sa.String(400), nullable=False),
                sa.Column("companions", sa.JSON(), nullable=False),
                sa.Column("sha256", sa.String(64), nullable=False),
                sa.Column("kind", sa.String(10), nullable=False),
                sa.Column("touches", sa.String(200), nullable=False),
                sa.Column("state", sa.String(20), nullable=False),
                sa.Column("created", _moment(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
                sa.UniqueConstraint("channel", "path"),
                sa.ForeignKeyConstraint(["channel"], ["channels.name"]),
            ],
            ["channel"],
        ),
        "tokens": (
            [
                sa.Column("id", sa.Integer(), nullable=False),
                sa.Column("user", sa.String(100), nullable=False),
                sa.Column("role", sa.String(20), nullable=False),
                sa.Column("token_sha256", sa.String(64), nullable=False),
                sa.Column("created", _moment(), nullable=False),
                sa.Column("revoked", sa.Boolean(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
                sa.UniqueConstraint("token_sha256"),
            ],
            ["user"],
        ),
        "recipes": (
            [
                sa.Column("name", sa.String(200), nullable=False),
                sa.Column("project", sa.String(200), nullable=False),
                sa.Column("version", sa.String(100), nullable=False),
                sa.Column("state", sa.String(20), nullable=False),
                sa.Column("sha256", sa.String(64), nullable=False),
                sa.Column("curated", sa.Boolean(), nullable=False),
                sa.Column("approved_sha256", sa.String(64), nullable=False),
                sa.Column("decided_by", sa.String(100), nullable=False),
                sa.Column("decided_at", _moment(), nullable=True),
                sa.Column("comment", sa.Text(), nullable=False),
                sa.Column("needs_builder", sa.String(200), nullable=False),
                sa.Column("last_log", sa.String(300), nullable=False),
                sa.Column("updated", _moment(), nullable=False),
                sa.PrimaryKeyConstraint("name"),
            ],
            [],
        ),
        "bridge_requests": (
            [
                sa.Column("id", sa.Integer(), nullable=False),
                sa.Column("kind", sa.String(10), nullable=False),
                sa.Column("name", sa.String(200), nullable=False),
                sa.Column("spec", sa.String(300), nullable=False),
                sa.Column("platforms", sa.String(200), nullable=False),
                sa.Column("reason", sa.Text(), nullable=False),
                sa.Column("source", sa.String(300), nullable=False),
                sa.Column("requested_by", sa.String(100), nullable=False),
                sa.Column("requested_at", _moment(), nullable=False),
                sa.Column("state", sa.String(20), nullable=False),
                sa.Column("decided_by", sa.String(100), nullable=False),
                sa.Column("comment", sa.Text(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
            ],
            [],
        ),
        "audit": (
            [
                sa.Column("id", sa.Integer(), nullable=False),
                sa.Column("time", _moment(), nullable=False),
                sa.Column("user", sa.String(100), nullable=False),
                sa.Column("action", sa.String(40), nullable=False),
                sa.Column("subject", sa.String(300), nullable=False),
                sa.Column("detail", sa.Text(), nullable=False),
                sa.PrimaryKeyConstraint("id"),
            ],
            [],
        ),
    }


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    for table, (columns, indexed) in _tables().items():
        if table in existing:
            continue
        op.create_table(table, *columns)
        for column in indexed:
            op.create_index(f"ix_{table}_{column}", table, [column])
