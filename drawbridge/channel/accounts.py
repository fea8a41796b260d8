"""Users and groups: who tokens belong to, and the sets of users permissions name.

A user may have a primary group: the group that owns the projects the user is the first to
upload to a channel (`channel.access`). A disabled user keeps their rows (uploads name
them) but every token of theirs is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from drawbridge.channel.database import Database, GroupMemberRow, GroupRow, TokenRow, UserRow
from drawbridge.channel.errors import AccountExists, UnknownAccount
from drawbridge.channel.tokens import check_user_name


@dataclass(frozen=True)
class User:
    """A user as listed: their groups and how many live tokens they have."""

    name: str
    primary_group: str | None
    groups: tuple[str, ...]
    disabled: bool
    tokens: int


@dataclass(frozen=True)
class Group:
    """A group as listed, with its members."""

    name: str
    members: tuple[str, ...]


class Accounts:
    """The users and groups of one database."""

    def __init__(self, database: Database) -> None:
        self.db = database

    # -- users ------------------------------------------------------------------------------

    def create_user(self, name: str, primary_group: str | None = None) -> User:
        """A new user, in `primary_group` (which must exist) if given; AccountExists if a
        user of that name does."""
        check_user_name(name)
        with self.db.session() as session:
            if session.get(UserRow, name) is not None:
                raise AccountExists(
                    f"user {name!r} exists already; `drawbridge user list` shows the users"
                )
            if primary_group is not None:
                _group(session, primary_group)
            session.add(UserRow(name=name, primary_group=primary_group))
            session.flush()
            if primary_group is not None:
                session.add(GroupMemberRow(group=primary_group, user=name))
        return self.user(name)

    def user(self, name: str) -> User:
        """The user `name`; UnknownAccount if there is none."""
        with self.db.session() as session:
            row = _user(session, name)
            groups = session.scalars(
                select(GroupMemberRow.group).where(GroupMemberRow.user == name)
            )
            live = session.scalars(
                select(TokenRow.id).where(TokenRow.user == name, ~TokenRow.revoked)
            )
            return User(
                name, row.primary_group, tuple(sorted(groups)), row.disabled, len(list(live))
            )

    def users(self) -> list[User]:
        """Every user, by name."""
        with self.db.session() as session:
            names = sorted(session.scalars(select(UserRow.name)))
        return [self.user(name) for name in names]

    def set_disabled(self, name: str, disabled: bool = True) -> User:
        """Disable a user (every token of theirs is refused from now on), or enable again."""
        with self.db.session() as session:
            _user(session, name).disabled = disabled
        return self.user(name)

    def set_primary_group(self, name: str, group: str | None) -> User:
        """Make `group` the user's primary group (joining it), or clear it with None."""
        with self.db.session() as session:
            row = _user(session, name)
            if group is not None:
                _group(session, group)
                if session.get(GroupMemberRow, (group, name)) is None:
                    session.add(GroupMemberRow(group=group, user=name))
            row.primary_group = group
        return self.user(name)

    # -- groups -----------------------------------------------------------------------------

    def create_group(self, name: str) -> Group:
        """A new, empty group; AccountExists if one of that name exists."""
        check_user_name(name)
        with self.db.session() as session:
            if session.get(GroupRow, name) is not None:
                raise AccountExists(
                    f"group {name!r} exists already; `drawbridge group list` shows the groups"
                )
            session.add(GroupRow(name=name))
        return Group(name, ())

    def add_members(self, group: str, users: list[str]) -> Group:
        """Put `users` (each must exist) into `group`; members already in stay."""
        with self.db.session() as session:
            _group(session, group)
            for user in users:
                _user(session, user)
                if session.get(GroupMemberRow, (group, user)) is None:
                    session.add(GroupMemberRow(group=group, user=user))
        return self.group(group)

    def remove_members(self, group: str, users: list[str]) -> Group:
        """Take `users` out of `group` (and clear it as their primary group)."""
        with self.db.session() as session:
            _group(session, group)
            for user in users:
                row = _user(session, user)
                if row.primary_group == group:
                    row.primary_group = None
                session.execute(
                    delete(GroupMemberRow).where(
                        GroupMemberRow.group == group, GroupMemberRow.user == user
                    )
                )
        return self.group(group)

    def group(self, name: str) -> Group:
        """The group `name` with its members; UnknownAccount if there is none."""
        with self.db.session() as session:
            _group(session, name)
            members = session.scalars(
                select(GroupMemberRow.user).where(GroupMemberRow.group == name)
            )
            return Group(name, tuple(sorted(members)))

    def groups(self) -> list[Group]:
        """Every group, by name."""
        with self.db.session() as session:
            names = sorted(session.scalars(select(GroupRow.name)))
        return [self.group(name) for name in names]


def _user(session: Session, name: str) -> UserRow:
    row = session.get(UserRow, name)
    if row is None:
        raise UnknownAccount(f"no user {name!r}; create it with `drawbridge user create {name}`")
    return row


def _group(session: Session, name: str) -> GroupRow:
    row = session.get(GroupRow, name)
    if row is None:
        raise UnknownAccount(f"no group {name!r}; create it with `drawbridge group create {name}`")
    return row
