"""One project, one conda name: releases that spell the project differently (importlib-
resources 3.3.1 says `importlib-resources`, 6.5.2 `importlib_resources`) end up under one
name, and every dependency on the project uses it, within a run and across runs.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
import rattler
from builders import make_noarch_python_conda, make_wheel
from clients import channel_uri, names_and_versions, solve

from drawbridge.bridge.translate.names import NameTable, newest_spellings, spelt_twice
from drawbridge.bridge.plan import make_plan
from drawbridge.bridge.upstream.pypi import FolderUpstream
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.bridge.run import BridgeOptions, run_bridge
from drawbridge.bridge.translate.targets import Target
from drawbridge.channel.database import Database
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels
from served_state import conda_index_file

PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
LINUX_27 = Target("linux-64", "2.7")
LINUX = Target("linux-64", PYTHON)


def two_spellings(drop: Path) -> Path:
    """foo-bar 1.0 calls itself `Foo_Bar`, 2.0 `foo-bar` (2.0 needs Python 3); old-user
    needs `foo-bar<2`, new-user `Foo_Bar>=2`, any-user `FOO.BAR>=1`."""
    make_wheel(drop, "Foo_Bar", "1.0", tag="py2.py3-none-any")
    make_wheel(drop, "foo-bar", "2.0", requires_python=">=3.6")
    make_wheel(drop, "old-user", "1.0", tag="py2.py3-none-any", requires=["foo-bar<2"])
    make_wheel(drop, "new-user", "1.0", requires=["Foo_Bar>=2"])
    make_wheel(drop, "any-user", "1.0", tag="py2.py3-none-any", requires=["FOO.BAR>=1"])
    return drop


def test_the_newest_release_spells_the_name_within_a_run(tmp_path: Path):
    """2.7 gets 1.0 (`Foo_Bar`), the Python 3 target 2.0 (`foo-bar`): one name, 2.0's,
    whichever target is resolved first, in the package and in the dependencies."""
    upstream = FolderUpstream(two_spellings(tmp_path / "drop"))
    plan, names = make_plan(
        ["old-user"], upstream, None, [LINUX_27, LINUX], NameTable(), cache_dir=tmp_path / "c"
    )
    [foo] = [p for p in plan.projects if p.project == "foo-bar"]
    assert {g.version for g in foo.groups} == {"1.0"} and foo.conda_name == "foo_bar"
    plan, names = make_plan(
        ["any-user"], upstream, None, [LINUX_27, LINUX], NameTable(), cache_dir=tmp_path / "c"
    )
    [foo] = [p for p in plan.projects if p.project == "foo-bar"]
    assert {g.version: g.targets for g in foo.groups} == {"1.0": (LINUX_27,), "2.0": (LINUX,)}
    assert foo.conda_name == "foo-bar" == names.conda_name("Foo_Bar")
    depends = [d for p in plan.projects for b in p.builds for d in b.depends]
    assert {d.split()[0] for d in depends if "foo" in d} == {"foo-bar"}, depends


def test_the_channels_spelling_wins_and_two_are_named(tmp_path: Path):
    upstream = FolderUpstream(two_spellings(tmp_path / "drop"))
    published = [("foo_bar", "0.9"), ("foo-bar", "0.5"), ("new-user", "0.1")]
    plan, names = make_plan(
        ["any-user"], upstream, None, [LINUX], NameTable(), cache_dir=tmp_path, published=published
    )
    assert names.conda_name("foo-bar") == "foo_bar" and names.conda_name("new_user") == "new-user"
    assert (
        None,
        "the channel holds foo-bar as foo-bar and foo_bar: this run uses foo_bar; remove the "
        "other's files once nothing needs them",
    ) in plan.warnings
    depends = [d for p in plan.projects for b in p.builds for d in b.depends]
    assert "foo_bar >=1" in depends, depends
    renamed = NameTable({"foo-bar": "foobar"})  # the table's renames beat the channel
    _, names = make_plan(
        ["any-user"], upstream, None, [LINUX], renamed, cache_dir=tmp_path, published=published
    )
    assert names.conda_name("Foo_Bar") == "foobar"


@pytest.mark.parametrize(
    ("pairs", "newest", "twice"),
    [
        ([("Foo_Bar", "1.0"), ("foo-bar", "2.0")], "foo-bar", ["foo-bar", "foo_bar"]),
        ([("foo-bar", "10.0"), ("foo_bar", "9.0")], "foo-bar", ["foo-bar", "foo_bar"]),
        ([("foo.bar", "1.0"), ("foo_bar", "not-pep-440")], "foo.bar", ["foo.bar", "foo_bar"]),
        ([("Foo.Bar", "0.18"), ("foo.bar", "0.17")], "foo.bar", None),
    ],
)
def test_newest_spellings(pairs, newest, twice):
    """The newest version's spelling, lowercased (one PEP 440 cannot read comes last)."""
    assert newest_spellings(pairs) == {"foo-bar": newest}
    assert spelt_twice(pairs) == ({"foo-bar": twice} if twice else {})


def bridge(
    home: Home, channels: Channels, drop: Path, upstream: Path, *requests: str, channel="main"
) -> None:
    # a home configured for what the run covers: pure wheels make noarch packages (a home
    # with every platform would get one package per target from a linux-64 run)
    home = replace(home, bridge=replace(home.bridge, platforms=["linux-64"], pythons=[PYTHON]))
    database = Database(home.database_url)
    options = BridgeOptions(
        requirements=requests,
        channel=channel,
        platforms=("linux-64",),
        pythons=(PYTHON,),
        upstream_pypi=str(drop),
        upstream_conda=(upstream.as_uri(),),
    )
    try:
        report = run_bridge(home, channels, RecipeBook(home, database), options, "test")
    finally:
        database.close()
    assert report.ok and not report.plan.problems, report.outcomes


@pytest.mark.parametrize(
    "runs",
    [(("old-user",), ("new-user", "any-user")), (("new-user", "any-user"), ("old-user",))],
    ids=["older-first", "newer-first"],
)
def test_two_runs_publish_one_name_and_a_solver_sees_one_package(
    home: Home, channels: Channels, upstream_channel: Path, tmp_path: Path, runs
):
    """Whichever release is bridged first names the project in the channel; the later run
    keeps that name for its release and its dependents. A solver then sees one package:
    old-user and any-user install one foo-bar (1.0), old-user and new-user cannot be
    installed together (before, they installed foo-bar 1.0 and foo_bar 2.0 over each other)."""
    drop = two_spellings(tmp_path / "drop")
    for requests in runs:
        bridge(home, channels, drop, upstream_channel, *requests)
    repodata = conda_index_file(channels.layout("main").conda_dir / "noarch")
    records = repodata["packages.conda"].values()
    names = {r["name"] for r in records if r["name"].replace("_", "-") == "foo-bar"}
    first = "foo_bar" if runs[0] == ("old-user",) else "foo-bar"  # its release's spelling
    assert names == {first}, names
    assert sorted(r["version"] for r in records if r["name"] == first) == ["1.0", "2.0"]
    depends = {d for r in records for d in r["depends"] if d.startswith("foo")}
    assert depends == {f"{first} <2", f"{first} >=2", f"{first} >=1"}, depends
    channel = [channel_uri(channels.layout("main").conda_dir), upstream_channel.as_uri()]
    installed = names_and_versions(solve(channel, ["old-user", "any-user"]))
    assert [n for n in installed if n.startswith("foo")] == [f"{first}=1.0"], installed
    with pytest.raises(rattler.exceptions.SolverError, match=first):
        solve(channel, ["old-user", "new-user"])


def test_a_base_channels_name_is_kept(
    home: Home, channels: Channels, upstream_channel: Path, tmp_path: Path
):
    """`dev` inherits `main`, which holds foo-bar as `foo.bar` (uploaded): bridging into
    `dev` keeps that name, since `dev` serves main's package beside its own."""
    channels.publish("main", make_noarch_python_conda(tmp_path, "foo.bar", "0.5", "foo_bar"))
    channels.create("dev")
    channels.set_bases("dev", ["main"])
    assert ("foo.bar", "0.5") in channels.conda_names("dev")
    bridge(
        home,
        channels,
        two_spellings(tmp_path / "drop"),
        upstream_channel,
        "any-user",
        channel="dev",
    )
    repodata = conda_index_file(channels.layout("dev").conda_dir / "noarch")
    records = repodata["packages.conda"].values()
    assert {(r["name"], r["version"]) for r in records} == {("foo.bar", "2.0"), ("any-user", "1.0")}
    [depends] = [r["depends"] for r in records if r["name"] == "any-user"]
    assert "foo.bar >=1" in depends, depends
