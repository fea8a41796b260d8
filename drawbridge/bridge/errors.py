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


class BundleError(BridgeError):
    """A bundle cannot be made or read as asked: no key, an unusable option or folder."""


class BundleRefused(BundleError):
    """A bundle (or receipt) that must not be trusted: its signature, manifest or a byte is
    wrong, or a chunk is missing; nothing of it was published."""


class PolicyError(BridgeError):
    """The `[policy]` settings, an OSV snapshot or a held release cannot be used as given."""
