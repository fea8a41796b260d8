"""The exception family of the bridge; every message names the input and the fix."""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error the bridge raises on purpose."""


class UpstreamError(BridgeError):
    """The upstream could not be read (network, HTTP error, malformed page)."""


class HashMismatch(BridgeError):
    """A download whose sha256 is not the one its index claims."""


class MalformedDistribution(BridgeError):
    """An upstream file whose contents contradict its name: its METADATA missing, naming
    another project or version, or unparsable; not a zip. A resolver passes it over as an
    unusable candidate; it is never published."""


class InvalidWheel(BridgeError):
    """A wheel that cannot be repacked: malformed, unsafe, or its RECORD does not match."""


class UnsupportedTarget(BridgeError):
    """A platform or Python the bridge does not know how to build for."""


class InstallabilityError(BridgeError):
    """The installability check could not run: a package file or a channel cannot be read."""
