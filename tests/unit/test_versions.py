"""One order of versions for every view: PEP 440's, with what it cannot parse below the rest.

The pip pages, the JSON API, the merged pages of an inheriting channel and the web UI all
sort by `channel.versions.version_key` (they once had two keys that put an unparsable
version at opposite ends).
"""

from __future__ import annotations

import pytest

from drawbridge.channel.versions import version_key

#: (versions, in ascending order)
ASCENDING = [
    (["1.10", "1.9", "1.0", "2.0rc1"], ["1.0", "1.9", "1.10", "2.0rc1"]),
    (["1.0", "1.0.dev0", "1.0a1", "1.0.post1"], ["1.0.dev0", "1.0a1", "1.0", "1.0.post1"]),
    (["1.0+local", "1.0", "1.0+abc.2"], ["1.0", "1.0+abc.2", "1.0+local"]),
    (["2024.1", "1!0.1"], ["2024.1", "1!0.1"]),  # an epoch beats any release
    (["1.0", "1.0.0"], ["1.0", "1.0.0"]),  # equal versions keep their order (a stable sort)
    # not PEP 440 (conda versions): below every parsed one, by their text
    (["1.0", "1.0_custom", "0.1"], ["1.0_custom", "0.1", "1.0"]),
    (["2004d", "0.0.1", "1.0_custom"], ["1.0_custom", "2004d", "0.0.1"]),
    (["", "0"], ["", "0"]),
]


@pytest.mark.parametrize(("versions", "ascending"), ASCENDING)
def test_versions_sort_in_one_order(versions: list[str], ascending: list[str]):
    assert sorted(versions, key=version_key) == ascending


@pytest.mark.parametrize(
    ("versions", "newest"),
    [
        ({"1.0", "1.0_custom"}, "1.0"),
        ({"0.0.1", "zzz"}, "0.0.1"),
        ({"1.0_custom", "1.0_other"}, "1.0_other"),  # nothing parses: the last by text
    ],
)
def test_a_version_nobody_can_parse_is_never_the_newest(versions: set[str], newest: str):
    assert max(versions, key=version_key) == newest
