"""Recipes for real sdist-only projects from pypi.org: generated, approved, built and
served; and grayskull reading Drawbridge's JSON API for one."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from clients import BIN, client_env
from clients import run_drawbridge
from servers import start_server
from served_state import noarch_conda_packages


@pytest.mark.online
def test_real_sdist_only_project_from_pypi(recipe_site: dict):
    """docopt 0.6.2 ships only an sdist (setup.py, no pyproject): generate, approve, build."""
    home = recipe_site["home"]
    generated = run_drawbridge(
        "recipe",
        "generate",
        "docopt==0.6.2",
        "--upstream-pypi",
        "https://pypi.org/simple/",
        home=home,
    )
    assert generated.returncode == 0, generated.stdout + generated.stderr
    assert (
        run_drawbridge(
            "recipe", "approve", "docopt", token=recipe_site["maintainer"], home=home
        ).returncode
        == 0
    )
    built = run_drawbridge("build", "docopt", home=home)
    assert built.returncode == 0, built.stdout + built.stderr
    assert any(name.startswith("docopt-0.6.2-") for name in noarch_conda_packages(home))


@pytest.mark.online
def test_grayskull_through_drawbridges_json_api_on_a_real_sdist_only_project(tmp_path: Path):
    """docopt's real sdist in a Drawbridge; grayskull reads it through the JSON API only."""
    from drawbridge.bridge.upstream.downloads import DownloadCache
    from drawbridge.bridge.upstream.pypi import SimpleIndexUpstream
    from drawbridge.bridge.recipes.convert import convert, dump
    import rattler_build

    with SimpleIndexUpstream(
        "https://pypi.org/simple/", DownloadCache(tmp_path / "cache")
    ) as upstream:
        sdist = next(f for f in upstream.files("docopt") if f.filename == "docopt-0.6.2.tar.gz")
        server = start_server(tmp_path / "home")
        try:
            server.publish(upstream.fetch(sdist))
            out = tmp_path / "out"
            out.mkdir()
            result = subprocess.run(
                [
                    str(BIN / "grayskull"),
                    "pypi",
                    "--no-use-v1-format",
                    "--pypi-metadata-url",
                    f"{server.url}/main/pypi/",
                    "--pypi-mirror-url",
                    f"{server.url}/main/",
                    "-o",
                    str(out),
                    "docopt",
                ],
                capture_output=True,
                text=True,
                env=client_env(),
                timeout=300,
                cwd=out,
            )
            assert result.returncode == 0, result.stdout + result.stderr
            meta = (out / "docopt" / "meta.yaml").read_text()
            assert f"{server.url}/main/packages/source/d/docopt/" in meta and sdist.sha256 in meta
            rattler_build.Stage0Recipe.from_yaml(dump(convert(meta)))
        finally:
            server.stop()
