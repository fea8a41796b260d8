"""The policy's commands as an operator types them: `osv import`, a bridge run that holds,
`held list`, `held accept` with a maintainer's token, `audit` with the advisories."""

from __future__ import annotations

from pathlib import Path

from builders import make_osv_zip, make_wheel
from clients import run_drawbridge
from databases import new_home, set_config

from drawbridge.channel.database import Database
from drawbridge.channel.service import Channels
from drawbridge.channel.tokens import Role, create_token


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_held_by_a_bridge_run_listed_accepted_and_audited(tmp_path: Path):
    drop = tmp_path / "drop"
    make_wheel(drop, "fine", "1.0")
    make_wheel(drop, "vulnerable", "1.0")
    home = set_config(new_home(tmp_path / "home"), "policy", max_severity="high")
    database = Database(home.database_url)
    Channels(home, database).create("main")
    token = create_token(database, "mia", Role.maintainer)
    database.close()
    root = home.root
    said = ok(run_drawbridge("osv", "import", str(make_osv_zip(tmp_path / "all.zip")), home=root))
    assert "2 PyPI advisories kept from all.zip" in said

    run = run_drawbridge(
        "bridge",
        "--upstream-pypi",
        str(drop),
        "--platform",
        "linux-64",
        "--python",
        "3.12",
        "fine",
        "vulnerable",
        home=root,
    )
    # a held project is a result to look at: the run says so and exits 1, the rest published
    assert run.returncode == 1 and "held by policy (advisory GHSA-vuln-0001 (high)" in run.stdout

    listed = ok(run_drawbridge("held", "list", home=root))
    assert "vulnerable-1.0-py3-none-any.whl" in listed and "GHSA-vuln-0001" in listed
    assert "vulnerable-1.0-py312" in listed  # the conda package made from it, held with it
    refused = run_drawbridge("held", "accept", "1", "--comment", "patched in our fork", home=root)
    assert refused.returncode == 1 and "needs a maintainer's token" in refused.stderr
    for number in ("1", "2"):  # the wheel and the conda package made from it
        ok(
            run_drawbridge(
                "held", "accept", number, "--comment", "patched in our fork", token=token, home=root
            )
        )

    audit = ok(run_drawbridge("audit", home=root))
    assert "accept-held" in audit and "patched in our fork" in audit
    assert "Advisories on published releases" in audit
    assert "fine 1.0" in audit and "PYSEC-fine-1" in audit
    assert "vulnerable 1.0" in audit and "GHSA-vuln-0001" in audit  # accepted, so published
