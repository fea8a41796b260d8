"""Checking wheels, sdists and conda packages: good ones pass, each bad one names its fault."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest
from builders import make_conda_tar_bz2, make_noarch_python_conda, make_sdist, make_wheel

from drawbridge.channel.conda_packages import inspect_conda_package
from drawbridge.channel.distributions import inspect_distribution
from drawbridge.channel.errors import InvalidDistribution


def test_wheel_metadata_is_read(tmp_path: Path):
    path = make_wheel(
        tmp_path, "Demo.Project", "1.0.post1", requires=["six>=1"], requires_python=">=3.8"
    )
    info = inspect_distribution(path)
    assert (info.project, info.display_name, info.version) == (
        "demo-project",
        "Demo.Project",
        "1.0.post1",
    )
    assert info.requires_python == ">=3.8"
    assert info.core_metadata["requires_dist"] == ["six>=1"]
    assert info.metadata_bytes.startswith(b"Metadata-Version: 2.1")


def test_sdist_metadata_is_read(tmp_path: Path):
    info = inspect_distribution(make_sdist(tmp_path, "sdist-demo", "2.0", requires=["six"]))
    assert (info.project, info.version, info.packagetype) == ("sdist-demo", "2.0", "sdist")
    assert info.metadata_bytes is None


def _corrupt_zip(tmp_path: Path) -> Path:
    path = make_wheel(tmp_path, "demo", "1.0")
    data = bytearray(path.read_bytes())
    data[60:90] = b"\x00" * 30  # inside the first member's compressed data
    path.write_bytes(bytes(data))
    return path


def _truncated_zip(tmp_path: Path) -> Path:
    path = make_wheel(tmp_path, "demo", "1.0")
    path.write_bytes(path.read_bytes()[:100])
    return path


BAD_DISTRIBUTIONS = {
    "filename and METADATA name disagree": (
        lambda d: make_wheel(d, "demo", "1.0", metadata_name="other"),
        "metadata says 'other'",
    ),
    "filename and METADATA version disagree": (
        lambda d: (
            make_wheel(d, "demo", "1.0").rename(d / "demo-1.1-py3-none-any.whl"),
            d / "demo-1.1-py3-none-any.whl",
        )[1],
        "no demo-1.1.dist-info/METADATA",
    ),
    "corrupt zip (bad CRC)": (_corrupt_zip, "corrupt zip"),
    "truncated zip": (_truncated_zip, "corrupt zip"),
    "entry with ..": (
        lambda d: make_wheel(d, "demo", "1.0", extra_entries={"../evil.py": b"x"}),
        "climbs out",
    ),
    "entry with an absolute path": (
        lambda d: make_wheel(d, "demo", "1.0", extra_entries={"/etc/evil": b"x"}),
        "absolute path",
    ),
    "symlink pointing outside": (
        lambda d: make_wheel(d, "demo", "1.0", symlinks={"demo/link": "../../../etc/passwd"}),
        "points outside",
    ),
    "invalid wheel filename": (
        lambda d: (make_wheel(d, "demo", "1.0").rename(d / "demo.whl"), d / "demo.whl")[1],
        "invalid wheel filename",
    ),
    "project name not PEP 508": (
        lambda d: (
            make_wheel(d, "demo", "1.0").rename(d / "-demo-1.0-py3-none-any.whl"),
            d / "-demo-1.0-py3-none-any.whl",
        )[1],
        "invalid wheel filename",
    ),
    "sdist with a .. member": (
        lambda d: make_sdist(d, "demo", "1.0", members={"demo-1.0/../../evil": b"x"}),
        "climbs out",
    ),
    "sdist whose PKG-INFO names another project": (
        lambda d: make_sdist(d, "demo", "1.0", metadata_name="other"),
        "metadata says 'other'",
    ),
    "not a distribution": (
        lambda d: (d / "notes.txt").write_text("hi") and d / "notes.txt",
        "not a Python distribution",
    ),
}


@pytest.mark.parametrize("case", BAD_DISTRIBUTIONS, ids=list(BAD_DISTRIBUTIONS))
def test_bad_distribution_is_refused_with_its_reason(tmp_path: Path, case: str):
    build, message = BAD_DISTRIBUTIONS[case]
    path = build(tmp_path)
    with pytest.raises(InvalidDistribution, match=message):
        inspect_distribution(path)


def test_real_conda_package_is_read(tmp_path: Path):
    path = make_noarch_python_conda(tmp_path, "demo-conda", "1.2", "demo_conda")
    info = inspect_conda_package(path)
    assert (info.name, info.version, info.subdir) == ("demo-conda", "1.2", "noarch")


def test_tar_bz2_package_is_read(tmp_path: Path):
    info = inspect_conda_package(make_conda_tar_bz2(tmp_path, "tool", "3.0", "h1_0", "linux-64"))
    assert (info.name, info.build, info.subdir) == ("tool", "h1_0", "linux-64")


def _conda_with_traversal(d: Path) -> Path:
    return make_conda_tar_bz2(d, "evil", "1.0", members={"../outside": b"x"})


def _corrupt_conda(d: Path) -> Path:
    path = make_noarch_python_conda(d, "demo-conda", "1.0", "demo_conda")
    path.write_bytes(path.read_bytes()[:200])
    return path


def _conda_without_inner_archives(d: Path) -> Path:
    path = d / "hollow-1.0-0.conda"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("metadata.json", '{"conda_pkg_format_version": 2}')
    return path


BAD_CONDA = {
    "index.json missing": (
        lambda d: make_conda_tar_bz2(d, "noindex", "1.0", include_index=False),
        "info/index.json is missing",
    ),
    "index.json lies about the name": (
        lambda d: make_conda_tar_bz2(d, "honest", "1.0", index={"name": "liar"}),
        "says liar-1.0-0",
    ),
    "index.json has an unknown subdir": (
        lambda d: make_conda_tar_bz2(d, "odd", "1.0", index={"subdir": "plan9-64"}),
        "unknown subdir",
    ),
    "member climbing out": (_conda_with_traversal, "climbs out"),
    "corrupt .conda": (_corrupt_conda, "corrupt"),
    ".conda without inner archives": (_conda_without_inner_archives, "must hold"),
}


@pytest.mark.parametrize("case", BAD_CONDA, ids=list(BAD_CONDA))
def test_bad_conda_package_is_refused_with_its_reason(tmp_path: Path, case: str):
    build, message = BAD_CONDA[case]
    with pytest.raises(InvalidDistribution, match=message):
        inspect_conda_package(build(tmp_path))


def test_tar_symlink_outside_is_refused(tmp_path: Path):
    path = tmp_path / "linky-1.0-0.tar.bz2"
    with tarfile.open(path, "w:bz2") as tf:
        link = tarfile.TarInfo("lib/escape")
        link.type, link.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        tf.addfile(link)
        data = b'{"name":"linky","version":"1.0","build":"0","subdir":"noarch"}'
        info = tarfile.TarInfo("info/index.json")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    with pytest.raises(InvalidDistribution, match="points outside"):
        inspect_conda_package(path)
