"""The one order of versions: PEP 440's, with what it cannot parse below everything it can.

A wheel's or sdist's version always parses (`distributions` refuses one that does not); a
conda package's may not (`1.0_custom`, `2004d`). Such a version sorts below every parsed
one, by its text, as `packaging`'s old `LegacyVersion` did: a version nobody can compare is
never a project's newest, and a list in ascending order starts with it.
"""

from __future__ import annotations

from functools import lru_cache

from packaging.version import InvalidVersion, Version


@lru_cache(maxsize=65536)
def version_key(version: str) -> tuple[int, Version | str]:
    """The sort key of `version`: (1, its PEP 440 Version), or (0, its text) if it does not
    parse. Kept for the next call: parsing was half the time of a 5,000-project channel
    page in the web UI, and a channel's versions are the same each time."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)
