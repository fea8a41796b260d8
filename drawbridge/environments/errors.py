"""What can go wrong with an environment, said so a user can act on it."""

from __future__ import annotations

from dataclasses import dataclass


class EnvironmentFailure(Exception):
    """Base of the errors the environments package raises on purpose."""


class EnvironmentFileError(EnvironmentFailure):
    """The environment file cannot be read or does not say what an environment is."""


class RemoteError(EnvironmentFailure):
    """The Drawbridge server cannot be reached or refused a request."""


class LockFileError(EnvironmentFailure):
    """A lock file that is missing, malformed or lacks what a command needs."""


class InstallError(EnvironmentFailure):
    """Installing a locked environment failed."""


class ImageError(EnvironmentFailure):
    """Writing an image failed."""


@dataclass(frozen=True)
class Missing:
    """One thing an environment file asks for that Drawbridge cannot provide."""

    kind: str  # "conda" or "pip"
    name: str  # the conda package name or the PyPI project name
    spec: str  # what the file asked for
    platform: str
    reason: str


class Unresolvable(EnvironmentFailure):
    """The environment cannot be locked; `missing` names each package and why."""

    def __init__(self, missing: list[Missing], detail: str = "") -> None:
        self.missing = missing
        self.detail = detail
        lines = [f"{m.platform}: {m.kind} {m.spec}: {m.reason}" for m in missing]
        super().__init__("\n".join(lines + ([detail] if detail else [])))
