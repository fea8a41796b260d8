"""A malformed file of an old release is passed over, as a resolver passes over an unusable
candidate: the plan goes on, the file named in a note (triton 0.4.1's wheels hold
`triton-0.4.0.dist-info`). Only a file that would be published is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from builders import make_wheel
from servers import static_http_server

from drawbridge.bridge.errors import MalformedDistribution
from drawbridge.bridge.translate.names import NameTable
from drawbridge.bridge.plan import make_plan
from drawbridge.bridge.upstream.pypi import (
    DownloadCache,
    FolderUpstream,
    SimpleIndexUpstream,
    UpstreamFile,
)
from drawbridge.bridge.translate.targets import Target

LINUX_39 = Target("linux-64", "3.9")
LINUX_312 = Target("linux-64", "3.12")
OSX_ARM_39 = Target("osx-arm64", "3.9")
LINUX_27 = Target("linux-64", "2.7")
TARGETS = [LINUX_27, LINUX_39, LINUX_312, OSX_ARM_39]
BAD = "tri-0.4.1-py2.py3-none-manylinux2014_x86_64.whl"


def misversioned_wheel(folder: Path, name: str, version: str, inside: str, tag: str) -> Path:
    """A wheel named `version` whose .dist-info (and METADATA) says `inside`, as triton
    0.4.1's wheels say 0.4.0."""
    made = make_wheel(folder / "made", name, inside, tag=tag)
    return made.rename(folder / made.name.replace(f"-{inside}-", f"-{version}-"))


def tri_releases(folder: Path) -> None:
    """tri 0.4.0 (good), 0.4.1 (a Linux wheel with 0.4.0's METADATA), 0.5.0 (Python >=3.10):
    Python 3.9 and 2.7 on Linux must pass 0.4.1 over; on macOS it fits nothing anyway."""
    make_wheel(folder, "tri", "0.4.0", tag="py2.py3-none-any")
    misversioned_wheel(folder, "tri", "0.4.1", "0.4.0", "py2.py3-none-manylinux2014_x86_64")
    make_wheel(folder, "tri", "0.5.0", tag="py2.py3-none-any", requires_python=">=3.10")
    make_wheel(folder, "uses-tri", "1.0", tag="py2.py3-none-any", requires=["tri"])


def versions_by_target(plan, project: str) -> dict[Target, str]:
    [found] = [p for p in plan.projects if p.project == project]
    return {t: g.version for g in found.groups if g.route == "wheel" for t in g.targets}


def test_a_malformed_old_wheel_is_passed_over_and_named(tmp_path: Path):
    drop = tmp_path / "drop"
    tri_releases(drop)
    plan, _ = make_plan(
        ["uses-tri"], FolderUpstream(drop), None, TARGETS, NameTable(), cache_dir=tmp_path / "c"
    )
    assert not plan.problems
    assert versions_by_target(plan, "tri") == {
        LINUX_27: "0.4.0",
        LINUX_39: "0.4.0",
        LINUX_312: "0.5.0",
        OSX_ARM_39: "0.4.0",
    }
    [tri] = [p for p in plan.projects if p.project == "tri"]
    assert BAD not in {w.filename for w in tri.wheels}
    passed_over = {target for target, warning in plan.warnings if BAD in warning}
    assert passed_over == {LINUX_27, LINUX_39}, plan.warnings
    why = "no tri-0.4.1.dist-info/METADATA in the wheel (found: tri-0.4.0.dist-info/METADATA)"
    assert all(why in w for t, w in plan.warnings if BAD in w), plan.warnings
    [linux_39] = [g for g in tri.groups if LINUX_39 in g.targets]
    assert f"0.4.1 has an unusable wheel ({BAD}: {why}" in linux_39.note, linux_39.note


def simple_index(root: Path, files: dict[Path, bytes | None]) -> None:
    """`root/simple/tri/` listing `files` (wheel -> the PEP 658 metadata served beside it,
    None for none); the wheels themselves are not served: reading one fails the test."""
    links = []
    for wheel, metadata in files.items():
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        core = ""
        if metadata is not None:
            (root / "files").mkdir(parents=True, exist_ok=True)
            (root / "files" / f"{wheel.name}.metadata").write_bytes(metadata)
            core = f' data-core-metadata="sha256={hashlib.sha256(metadata).hexdigest()}"'
        links.append(f'<a href="../../files/{wheel.name}#sha256={digest}"{core}>{wheel.name}</a>')
    (root / "simple" / "tri").mkdir(parents=True)
    (root / "simple" / "tri" / "index.html").write_text("<html><body>" + "".join(links))


def dist_info_metadata(wheel: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        [name] = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return zf.read(name)


def test_an_index_whose_metadata_names_another_release_is_not_downloaded(tmp_path: Path):
    """PEP 658 metadata naming another version (uv takes it) or another project (uv stops
    at it): both releases are passed over from the metadata alone, the wheels never read."""
    made = tmp_path / "made"
    good = make_wheel(made, "tri", "0.4.0")
    misversioned = misversioned_wheel(made, "tri", "0.4.1", "0.4.0", "py3-none-any")
    misnamed = make_wheel(made, "tri", "0.4.2")
    newest = make_wheel(made, "tri", "0.5.0", requires_python=">=3.10")
    other = make_wheel(tmp_path / "other", "other", "0.4.2")
    root = tmp_path / "index"
    simple_index(
        root,
        {
            good: dist_info_metadata(good),
            misversioned: dist_info_metadata(misversioned),
            misnamed: dist_info_metadata(other),
            newest: dist_info_metadata(newest),
        },
    )
    (root / "files" / good.name).write_bytes(good.read_bytes())  # the one wheel served
    with static_http_server(root) as httpd:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/simple/"
        with SimpleIndexUpstream(url, DownloadCache(tmp_path / "cache")) as upstream:
            plan, _ = make_plan(
                ["tri"], upstream, None, [LINUX_39, LINUX_312], NameTable(), cache_dir=tmp_path
            )
            bad = next(f for f in upstream.files("tri") if f.version == "0.4.2")
            with pytest.raises(MalformedDistribution, match="names other 0.4.2"):
                upstream.metadata(bad)
    assert not plan.problems, plan
    assert versions_by_target(plan, "tri") == {LINUX_39: "0.4.0", LINUX_312: "0.5.0"}
    warned = " ".join(w for t, w in plan.warnings if t == LINUX_39)
    assert f"{misversioned.name}: its core metadata (PEP 658) names tri 0.4.0" in warned
    assert f"{misnamed.name}: its core metadata (PEP 658) names other 0.4.2" in warned


def test_the_catalogue_refuses_metadata_that_names_another_release():
    from drawbridge.bridge.upstream.metadata import InvalidMetadata, parse_core_metadata

    file = UpstreamFile("tri", "tri-0.4.1-py3-none-any.whl", "x", "0.4.1", None)
    assert parse_core_metadata(b"Name: Tri\nVersion: 0.4.1\n", file).name == "Tri"
    for raw, says in [
        (b"Name: tri\nVersion: 0.4.0\n", "names tri 0.4.0"),
        (b"Name: other\nVersion: 0.4.1\n", "names other 0.4.1"),
        (b"Name: tri\nVersion: not a version\n", "names tri not a version"),
        (b"Version: 0.4.1\n", "has no Name or Version"),
    ]:
        with pytest.raises(InvalidMetadata, match=says):
            parse_core_metadata(raw, file)
