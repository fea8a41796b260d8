"""Publishing into a channel: files placed, recorded and indexed; refusals leave no trace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import make_conda_tar_bz2, make_noarch_python_conda, make_wheel
from served_state import conda_index_file

from drawbridge.channel.errors import DuplicateFile, InvalidDistribution, UnknownChannel
from drawbridge.channel.distributions import ExpectedDigests
from drawbridge.channel.service import Channels


def _tree(channels: Channels, channel: str = "main") -> set[str]:
    root = channels.home.channel(channel).root
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_wheel_is_published_with_metadata_and_pages(channels: Channels, tmp_path: Path):
    wheel = make_wheel(tmp_path, "demo", "1.0", requires_python=">=3.8")
    published = channels.publish("main", wheel)
    files = channels.files_dir("main")
    assert (files / wheel.name).read_bytes() == wheel.read_bytes()
    assert (files / (wheel.name + ".metadata")).read_bytes().startswith(b"Metadata-Version")
    page = json.loads((channels.simple_dir("main") / "demo" / "index.json").read_text())
    assert page["files"][0]["hashes"]["sha256"] == published.sha256
    assert page["files"][0]["requires-python"] == ">=3.8"
    assert "demo/" in (channels.simple_dir("main") / "index.html").read_text()


def test_conda_package_is_indexed(channels: Channels, tmp_path: Path):
    package = make_noarch_python_conda(tmp_path, "demo-conda", "1.0", "demo_conda")
    channels.publish("main", package)
    repodata = conda_index_file(channels.conda_dir("main") / "noarch")
    assert package.name in repodata["packages.conda"]
    channeldata = conda_index_file(channels.conda_dir("main"), "channeldata.json")
    assert channeldata["packages"]["demo-conda"]["subdirs"] == ["noarch"]


def test_same_filename_twice_keeps_the_first(channels: Channels, tmp_path: Path):
    first = make_wheel(tmp_path / "a", "demo", "1.0")
    channels.publish("main", first)
    second = make_wheel(tmp_path / "b", "demo", "1.0", extra_entries={"demo/extra.py": b"x = 2\n"})
    with pytest.raises(DuplicateFile, match="already in channel"):
        channels.publish("main", second)
    assert (channels.files_dir("main") / first.name).read_bytes() == first.read_bytes()


def test_same_conda_package_twice_is_refused(channels: Channels, tmp_path: Path):
    first = make_conda_tar_bz2(tmp_path / "a", "tool", "1.0", "0", "linux-64")
    channels.publish("main", first)
    assert channels.publish("main", first).already_published  # the same bytes: a success
    with pytest.raises(DuplicateFile):
        channels.publish(
            "main",
            make_conda_tar_bz2(tmp_path / "b", "tool", "1.0", "0", "linux-64", members={"x": b"2"}),
        )


@pytest.mark.parametrize(
    "make",
    [
        lambda d: make_wheel(d, "demo", "1.0", metadata_name="other"),
        lambda d: make_wheel(d, "demo", "1.0", extra_entries={"../evil": b""}),
        lambda d: make_conda_tar_bz2(d, "honest", "1.0", index={"name": "liar"}),
        lambda d: make_conda_tar_bz2(d, "noindex", "1.0", include_index=False),
    ],
)
def test_refused_file_leaves_the_channel_untouched(channels: Channels, tmp_path: Path, make):
    before = _tree(channels)
    with pytest.raises(InvalidDistribution):
        channels.publish("main", make(tmp_path))
    assert _tree(channels) == before
    assert channels.projects("main") == [] and channels.conda_packages("main") == []


def test_digest_mismatch_is_refused(channels: Channels, tmp_path: Path):
    wheel = make_wheel(tmp_path, "demo", "1.0")
    with pytest.raises(InvalidDistribution, match="sha256 digest sent"):
        channels.publish("main", wheel, expected=ExpectedDigests(sha256="0" * 64))
    assert channels.projects("main") == []


def test_unknown_channel(channels: Channels, tmp_path: Path):
    with pytest.raises(UnknownChannel, match="drawbridge channel create nope"):
        channels.publish("nope", make_wheel(tmp_path, "demo", "1.0"))


def test_publish_many_indexes_once_and_reports_refusals(channels: Channels, tmp_path: Path):
    good = [make_wheel(tmp_path, f"p{i}", "1.0") for i in range(3)]
    good.append(make_conda_tar_bz2(tmp_path, "tool", "1.0", "0", "linux-64"))
    bad = make_wheel(tmp_path / "bad", "liar", "1.0", metadata_name="truth")
    published, refused = channels.publish_many("main", [*good, bad])
    assert len(published) == 4 and [p for p, _ in refused] == [bad]
    assert channels.projects("main") == ["p0", "p1", "p2"]
    repodata = conda_index_file(channels.conda_dir("main") / "linux-64")
    assert list(repodata["packages"]) == ["tool-1.0-0.tar.bz2"]


def test_yank_shows_in_pages(channels: Channels, tmp_path: Path):
    wheel = make_wheel(tmp_path, "demo", "1.0")
    channels.publish("main", wheel)
    channels.yank("main", wheel.name, "broken build")
    page = json.loads((channels.simple_dir("main") / "demo" / "index.json").read_text())
    assert page["files"][0]["yanked"] == "broken build"
    assert (
        'data-yanked="broken build"'
        in (channels.simple_dir("main") / "demo" / "index.html").read_text()
    )


#: files whose record a column could not keep: PostgreSQL would refuse the insert (a 500),
#: SQLite would keep the value whole; both refuse the file before anything is placed
OVERLONG = {
    "version": (lambda d: make_wheel(d, "longver", "1." + "1" * 120), "its version is 122"),
    "project": (lambda d: make_wheel(d, "x" * 205, "1.0"), "its project is 205"),
    "requires_python": (
        lambda d: make_wheel(
            d, "longrp", "1.0", requires_python=",".join(f"!=3.{i}.*" for i in range(40))
        ),
        "its requires_python is 349",
    ),
}


@pytest.mark.parametrize("case", OVERLONG, ids=list(OVERLONG))
def test_a_value_longer_than_its_column_is_refused_before_placing(
    channels: Channels, tmp_path: Path, case: str
):
    make, said = OVERLONG[case]
    before = _tree(channels)
    with pytest.raises(InvalidDistribution, match=f"{said} characters long, more than the"):
        channels.publish("main", make(tmp_path))
    assert _tree(channels) == before and channels.projects("main") == []


def test_the_database_refuses_what_it_cannot_keep_on_every_backend(channels: Channels):
    """A request whose platforms overflow their column, or a NUL in a text value, is
    ValueRefused on SQLite as on PostgreSQL (which refuses both by itself)."""
    from drawbridge.bridge.bridging_requests import RequestBook
    from drawbridge.channel.errors import ValueRefused

    book = RequestBook(channels.db)
    with pytest.raises(ValueRefused, match="its platforms is 229 characters long"):
        book.file("pip", "many", "many", [f"platform-{i:02d}" * 2 for i in range(10)], "", "", "u")
    with pytest.raises(ValueRefused, match="its source holds a NUL"):
        book.file("pip", "nul", "nul", [], "", "env\x00.yml", "u")
    assert book.all() == []


def test_a_new_version_leaves_the_list_of_projects_alone(channels: Channels, tmp_path: Path):
    """The root pages list every project (1.2 s to write at 100,000): only a project's
    first file or its last one's removal rewrites them, not another version of it."""
    root = channels.simple_dir("main") / "index.html"
    channels.publish("main", make_wheel(tmp_path / "a", "listed", "1.0"))
    first = root.stat().st_ino
    channels.publish("main", make_wheel(tmp_path / "b", "listed", "1.1"))
    assert root.stat().st_ino == first
    channels.publish("main", make_wheel(tmp_path / "c", "newcomer", "1.0"))
    assert root.stat().st_ino != first and "newcomer/" in root.read_text()
