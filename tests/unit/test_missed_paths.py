"""Which request paths name a project a channel may lack (the miss counter's reading)."""

from __future__ import annotations

import pytest

from drawbridge.server.asgi.misses import missed_project


@pytest.mark.parametrize(
    "path, expected",
    [
        ("/main/simple/Wanted_Thing/", ("main", "wanted-thing")),
        ("/simple/requests/", ("main", "requests")),  # the default channel's alias
        ("/team/tools/simple/numpy/", ("team/tools", "numpy")),
        ("/main/pypi/Flask/json", ("main", "flask")),
        ("/main/simple/", None),  # the root page names no project
        ("/main/simple/numpy", None),  # no slash: a redirect, not a miss
        ("/main/simple/numpy/numpy-1.0.tar.gz", None),
        ("/main/simple/-bad-/", None),
        ("/main/conda/noarch/repodata.json", None),
        ("/main/simple/" + "a" * 300 + "/", None),
    ],
)
def test_which_paths_can_miss(path: str, expected: tuple[str, str] | None):
    assert missed_project(path, "main") == expected
