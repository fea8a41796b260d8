"""Which requirements apply on one target: its interpreter version and PEP 508 marker variables."""

from __future__ import annotations

from collections.abc import Iterable

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement

from drawbridge.bridge.translate.deps import PYTHON2_FULL_VERSION, marker_environment
from drawbridge.bridge.translate.targets import Target


def interpreter_version(target: Target) -> str:
    """The Python version a resolver for `target` checks Requires-Python against.

    A conda environment gets the newest patch release of X.Y, so Python 3 targets use
    X.Y.999: "!=3.9.0,!=3.9.1,>=3.8" (cryptography 47) admits 3.9 as pip on 3.9.23 says.
    Python 2.7 targets use 2.7.18, the interpreter pip 19 really runs on.
    """
    return PYTHON2_FULL_VERSION if target.python_tuple < (3, 0) else f"{target.python}.999"


def target_environment(target: Target, extra: str = "") -> dict[str, str]:
    """The marker variables of a CPython on `target` (`deps.marker_environment`)."""
    return marker_environment(target, extra)


def applies(requirement: Requirement, target: Target, extras: Iterable[str] = ()) -> bool:
    """True if the requirement's marker holds on `target` with any of `extras`, or none."""
    if requirement.marker is None:
        return True
    for extra in ("", *extras):
        try:
            if requirement.marker.evaluate(target_environment(target, extra)):
                return True
        except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
            continue
    return False


def active_requirements(
    requires_dist: Iterable[str], target: Target, extras: Iterable[str] = ()
) -> list[Requirement]:
    """The Requires-Dist entries that apply on `target`; pip's way: unparsable ones left out."""
    extras = tuple(extras)
    active = []
    for text in requires_dist:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if applies(requirement, target, extras):
            active.append(requirement)
    return active
