"""Per-target resolution over a real index: yanked files are skipped by the resolver.

The rest of resolution is tested in `unit/test_resolve.py`."""

from __future__ import annotations


from builders import make_wheel

from drawbridge.bridge.upstream.pypi import (
    DownloadCache,
    SimpleIndexUpstream,
)
from drawbridge.bridge.resolve.per_target import TargetResolution, resolve
from drawbridge.bridge.translate.targets import Target


LINUX_311 = Target("linux-64", "3.11")


LINUX_312 = Target("linux-64", "3.12")


LINUX_27 = Target("linux-64", "2.7")


def by_target(results: list[TargetResolution]) -> dict[Target, TargetResolution]:
    return {r.target: r for r in results}


def test_yanked_files_are_skipped(module_server, tmp_path):
    folder = tmp_path / "wheels"
    module_server.publish(
        make_wheel(folder, "yanky", "1.0", tag="py2.py3-none-any"),
        make_wheel(folder, "yanky", "2.0", tag="py2.py3-none-any"),
        make_wheel(folder, "yanky", "3.0", tag="py2.py3-none-any", requires_python=">=3.12"),
    )
    module_server.channels.yank("main", "yanky-2.0-py2.py3-none-any.whl", "broken")
    with SimpleIndexUpstream(
        f"{module_server.url}/main/simple/", DownloadCache(tmp_path / "downloads")
    ) as upstream:
        results = by_target(
            resolve(
                ["yanky"], upstream, [LINUX_27, LINUX_311, LINUX_312], cache_dir=tmp_path / "cache"
            )
        )
        assert {t: r.pins["yanky"].version for t, r in results.items()} == {
            LINUX_27: "1.0",
            LINUX_311: "1.0",
            LINUX_312: "3.0",
        }
        assert results[LINUX_311].pins["yanky"].held_back == "3.0 needs Python >=3.12"
