"""The exception family of the channel layer; every message names the input and the fix."""

from __future__ import annotations


class ChannelError(Exception):
    """Base of every error the channel layer raises on purpose."""


class InvalidDistribution(ChannelError):
    """A wheel, sdist or conda package that is malformed, lies about itself or is unsafe."""


class BatchRefused(ChannelError):
    """One file of an all-or-nothing batch was refused, so none of the batch was published."""


class DuplicateFile(ChannelError):
    """A file of that name is already in the channel; files are immutable once published."""


class UnknownChannel(ChannelError):
    """No channel of that name exists in this home."""


class UnknownProject(ChannelError):
    """No project (or version) of that name is published in the channel."""


class InvalidName(ChannelError):
    """A channel, project or user name that is not valid where it is used."""


class HomeError(ChannelError):
    """The Drawbridge home is missing, unreadable or its configuration is invalid."""


class ArchiveTooLarge(InvalidDistribution):
    """An archive member, or the whole archive inflated, exceeds the bounds of `limits`."""


class StorageFull(ChannelError):
    """The disk (or the quota) holding the home is full; nothing was published."""


class StorageFailure(ChannelError):
    """The operating system refused a read or write in the home (permissions, I/O error)."""


class IndexFailure(ChannelError):
    """rattler's indexer failed on a channel for a reason no single package explains."""


class DatabaseUnavailable(ChannelError):
    """The database `database_url` names cannot be reached or opened."""


class ValueRefused(ChannelError):
    """A value the database cannot keep as given: longer than its column, or holding a NUL
    character (PostgreSQL refuses both; SQLite would keep them, so neither does)."""


class ReadOnlyReplica(ChannelError):
    """A change asked of a replica: its database is a read-only standby of the primary's,
    where every change is made."""


class BaseCycle(ChannelError):
    """Bases that would make a channel inherit from itself."""


class PermissionDenied(ChannelError):
    """The identity may see the channel but not do this there (upload, review, add to a
    project another group owns, administer)."""


class UnknownAccount(ChannelError):
    """No user or group of that name exists."""


class AccountExists(ChannelError):
    """A user or group of that name exists already."""


class InvalidPermission(ChannelError):
    """A principal or an action that permissions cannot name."""
