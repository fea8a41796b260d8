"""The exception family of the channel layer; every message names the input and the fix."""

from __future__ import annotations


class ChannelError(Exception):
    """Base of every error the channel layer raises on purpose."""

    #: the HTTP status a server should answer with when this error reaches a client
    status_code: int = 400


class InvalidDistribution(ChannelError):
    """A wheel, sdist or conda package that is malformed, lies about itself or is unsafe."""

    status_code = 400


class DuplicateFile(ChannelError):
    """A file of that name is already in the channel; files are immutable once published."""

    status_code = 409


class UnknownChannel(ChannelError):
    """No channel of that name exists in this home."""

    status_code = 404


class UnknownProject(ChannelError):
    """No project (or version) of that name is published in the channel."""

    status_code = 404


class InvalidName(ChannelError):
    """A channel, project or user name that is not valid where it is used."""

    status_code = 400


class HomeError(ChannelError):
    """The Drawbridge home is missing, unreadable or its configuration is invalid."""

    status_code = 500
