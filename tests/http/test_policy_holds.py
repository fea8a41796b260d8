"""Policy on the way in: a bundle import and a bridge run hold a blocked project, a licence
outside the allow list and a release with an advisory from a small OSV snapshot; the rest
is published; a maintainer's accept publishes a held file and is audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import make_osv_zip as osv_zip
from builders import make_wheel
from databases import new_home, set_config
from served_state import served_bytes
from servers import AppClient

from drawbridge.bridge.bundles import export, importing, signing
from drawbridge.bridge.policy import holding, osv
from drawbridge.bridge.policy.holding import PolicyGate
from drawbridge.bridge.recipes.book import RecipeBook
from drawbridge.bridge.run import BridgeOptions, run_bridge
from drawbridge.channel.database import Database
from drawbridge.channel.held import HeldFiles
from drawbridge.channel.home import Home
from drawbridge.channel.service import Channels

POLICY = {"block": ["blocked-thing"], "licenses": ["MIT", "BSD-3-Clause"], "max_severity": "high"}


def policed_home(root: Path) -> Home:
    home = set_config(new_home(root), "policy", **POLICY)
    Channels(home, Database(home.database_url)).create("main")
    osv.import_snapshot(home.root, osv_zip(root.parent / "all.zip"))
    return home


def dists(folder: Path) -> list[Path]:
    return [
        make_wheel(folder, "fine", "1.0"),
        make_wheel(folder, "blocked-thing", "1.0"),
        make_wheel(folder, "gpl-thing", "1.0", license="GPL-3.0-only"),
        make_wheel(folder, "vulnerable", "1.0"),
    ]


@pytest.fixture
def inside(tmp_path: Path) -> Home:
    return policed_home(tmp_path / "inside")


def held_reasons(home: Home) -> dict[str, list[str]]:
    return {
        row.filename: row.reasons
        for row in HeldFiles(home.root, Database(home.database_url)).waiting()
    }


EXPECTED = {
    "blocked_thing-1.0-py3-none-any.whl": ["blocked by [policy] block: blocked-thing"],
    "gpl_thing-1.0-py3-none-any.whl": ["licence GPL-3.0-only is not among [policy] licenses"],
    "vulnerable-1.0-py3-none-any.whl": ["advisory GHSA-vuln-0001 (high): remote code execution"],
}


def test_a_bundle_import_holds_what_policy_holds_and_an_accept_publishes_it(
    inside: Home, tmp_path: Path
):
    outside = new_home(tmp_path / "outside")
    channels_out = Channels(outside, Database(outside.database_url))
    channels_out.create("main")
    channels_out.publish_many("main", dists(tmp_path / "dists"))
    key = signing.generate(
        outside.signing_key_path, tmp_path / "outside.pub"
    ) and signing.load_private(outside.signing_key_path)
    export.write_bundle(tmp_path / "bundle", channels_out, [export.Selection("main")], key)
    signing.generate(inside.signing_key_path, inside.signing_key_path.with_suffix(".pub"))
    channels = Channels(inside, Database(inside.database_url))
    held = HeldFiles(inside.root, channels.db)

    report = importing.import_bundle(
        channels,
        tmp_path / "bundle",
        [signing.load_public(tmp_path / "outside.pub")],
        signing.load_private(inside.signing_key_path),
        gate=PolicyGate.of_home(inside),
        held=held,
    )

    assert [f.filename for f in report.published["main"]] == ["fine-1.0-py3-none-any.whl"]
    assert held_reasons(inside) == EXPECTED
    assert channels.projects("main") == ["fine"]
    assert not any("gpl" in path for path in served_bytes(inside))
    # the advisory below max_severity holds nothing, and shows for the published release
    affected = holding.published_advisories(channels, osv.Snapshot.load(inside.root))
    assert [(a.project, a.version, a.advisory, a.severity) for a in affected] == [
        ("fine", "1.0", "PYSEC-fine-1", "low")
    ]

    with AppClient(inside) as app:
        page = app.get("/main/pypi/fine/").text
        assert "PYSEC-fine-1</strong> (low) affects 1.0: a small leak" in page
        waiting = app.get("/ui/held").text
        assert "3 waiting" in waiting and "advisory GHSA-vuln-0001 (high)" in waiting

    (gpl,) = [row for row in held.waiting() if row.project == "gpl-thing"]
    with pytest.raises(Exception, match="needs --comment"):
        holding.accept(channels, held, gpl.id, "mia", "")
    holding.accept(channels, held, gpl.id, "mia", "legal approved GPL for this tool")

    assert channels.projects("main") == ["fine", "gpl-thing"]
    assert "gpl_thing-1.0-py3-none-any.whl" not in held_reasons(inside)
    (audit,) = [
        row for row in RecipeBook(inside, channels.db).audit() if row.action == "accept-held"
    ]
    assert audit.user == "mia" and "legal approved GPL" in audit.detail
    assert "licence GPL-3.0-only" in audit.detail


def test_a_bridge_run_holds_what_policy_holds(inside: Home, tmp_path: Path):
    drop = tmp_path / "drop"
    dists(drop)
    channels = Channels(inside, Database(inside.database_url))
    options = BridgeOptions(
        requirements=("fine", "blocked-thing", "gpl-thing", "vulnerable"),
        channel="main",
        platforms=("linux-64",),
        pythons=("3.12",),
        upstream_pypi=str(drop),
        upstream_conda=(),
    )

    report = run_bridge(inside, channels, RecipeBook(inside, channels.db), options, "bridge")

    results = {o.project: o for o in report.outcomes}
    assert results["fine"].ok
    for project in ("blocked-thing", "gpl-thing", "vulnerable"):
        assert not results[project].ok and "held by policy" in results[project].result
    assert channels.projects("main") == ["fine"]
    held = held_reasons(inside)
    assert {n for n in held if n.endswith(".whl")} == set(EXPECTED)
    conda = {n.split("-1.0-")[0]: reasons for n, reasons in held.items() if n.endswith(".conda")}
    assert conda == {
        "blocked-thing": EXPECTED["blocked_thing-1.0-py3-none-any.whl"],
        "gpl-thing": EXPECTED["gpl_thing-1.0-py3-none-any.whl"],
        "vulnerable": EXPECTED["vulnerable-1.0-py3-none-any.whl"],
    }


def test_an_osv_snapshot_carried_in_the_bundle_is_the_one_the_inside_checks(tmp_path: Path):
    outside = policed_home(tmp_path / "outside")
    channels_out = Channels(outside, Database(outside.database_url))
    channels_out.publish_many("main", [make_wheel(tmp_path / "d", "vulnerable", "1.0")])
    signing.generate(outside.signing_key_path, tmp_path / "outside.pub")
    snapshot = export.Carried(outside.root / osv.SNAPSHOT, "osv", "main")
    key = signing.load_private(outside.signing_key_path)
    export.write_bundle(
        tmp_path / "b", channels_out, [export.Selection("main")], key, extra=[snapshot]
    )
    inside = set_config(new_home(tmp_path / "inside"), "policy", max_severity="high")
    signing.generate(inside.signing_key_path, inside.signing_key_path.with_suffix(".pub"))
    channels = Channels(inside, Database(inside.database_url))

    report = importing.import_bundle(
        channels,
        tmp_path / "b",
        [signing.load_public(tmp_path / "outside.pub")],
        signing.load_private(inside.signing_key_path),
        gate=PolicyGate.of_home,
        held=HeldFiles(inside.root, channels.db),
    )

    assert [(f.name, r) for f, r in report.held] == [
        ("vulnerable-1.0-py3-none-any.whl", EXPECTED["vulnerable-1.0-py3-none-any.whl"])
    ]
    assert (inside.root / osv.SNAPSHOT).read_bytes() == (outside.root / osv.SNAPSHOT).read_bytes()
