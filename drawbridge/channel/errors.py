"""The exception family of the channel layer; every message names the input and the fix."""

from __future__ import annotations


class ChannelError(Exception):
    """Base of every error the channel layer raises on purpose."""


class InvalidDistribution(ChannelError):
    """A wheel, sdist or conda package that is malformed, lies about itself or is unsafe."""


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
