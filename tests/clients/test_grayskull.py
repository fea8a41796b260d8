"""grayskull writes a recipe from Drawbridge's PyPI JSON API, as it would inside the air gap."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import httpx
from builders import make_sdist
from clients import BIN, client_env
from servers import Server


def test_grayskull_recipe_from_the_json_api(server: Server, tmp_path: Path):
    sdist = make_sdist(tmp_path / "d", "sdist-demo", "1.0", requires=["six>=1.10"])
    server.publish(sdist)
    out = tmp_path / "recipes"
    out.mkdir()
    result = subprocess.run(
        [
            str(BIN / "grayskull"),
            "pypi",
            "--pypi-metadata-url",
            f"{server.url}/main/pypi/",
            "--pypi-mirror-url",
            f"{server.url}/main/",
            "--no-use-v1-format",
            "-o",
            str(out),
            "sdist-demo",
        ],
        env=client_env(),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    recipe = (out / "sdist-demo" / "meta.yaml").read_text()
    assert hashlib.sha256(sdist.read_bytes()).hexdigest() in recipe
    url = next(line.split("url: ")[1] for line in recipe.splitlines() if "url: " in line)
    assert url.startswith(f"{server.url}/main/")  # inside the air gap, not pypi.org
    download = httpx.get(url.replace("{{ version }}", "1.0"))
    assert download.status_code == 200 and download.content == sdist.read_bytes()
    assert "six >=1.10" in recipe
    assert 'set version = "1.0"' in recipe
