"""Upstream index parsing (PEP 503 HTML, PEP 691 JSON, as warehouse writes them), the cache."""

from __future__ import annotations

from pathlib import Path

import pytest
from builders import make_wheel

from drawbridge.bridge.errors import BridgeError
from drawbridge.bridge.upstream.pypi import (
    FolderUpstream,
    UnknownUpstreamProject,
    parse_simple_html,
    parse_simple_json,
    read_wheel_metadata,
)

WAREHOUSE_HTML = """<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.3">
    <title>Links for six</title>
  </head>
  <body>
    <h1>Links for six</h1>
    <a href="https://files.pythonhosted.org/packages/ee/ff/six-1.16.0-py2.py3-none-any.whl#sha256=8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254" data-requires-python="&gt;=2.7, !=3.0.*, !=3.1.*, !=3.2.*" data-dist-info-metadata="sha256=5507062050801267d9725efb139ae23c2378bf64c8b1cfeab5a7278f12872682" data-core-metadata="sha256=5507062050801267d9725efb139ae23c2378bf64c8b1cfeab5a7278f12872682">six-1.16.0-py2.py3-none-any.whl</a><br />
    <a href="https://files.pythonhosted.org/packages/71/39/six-1.16.0.tar.gz#sha256=1e61c37477a1626458e36f7b1d82aa5c9b094fa4802892072e49de9c60c4c926" data-requires-python="&gt;=2.7, !=3.0.*, !=3.1.*, !=3.2.*" >six-1.16.0.tar.gz</a><br />
    <a href="../../files/six-1.0.0-py2-none-any.whl#sha256=00" data-yanked="broken">six-1.0.0-py2-none-any.whl</a><br />
    <a href="https://example.invalid/README.txt">README.txt</a><br />
  </body>
</html>
"""


def test_parse_warehouse_html():
    files = parse_simple_html("six", "https://pypi.org/simple/six/", WAREHOUSE_HTML)
    assert [f.filename for f in files] == [
        "six-1.16.0-py2.py3-none-any.whl",
        "six-1.16.0.tar.gz",
        "six-1.0.0-py2-none-any.whl",
    ]
    wheel, sdist, old = files
    assert wheel.sha256.startswith("8abb2f1d") and wheel.has_metadata and wheel.version == "1.16.0"
    assert wheel.requires_python == ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*"
    assert wheel.url.endswith("six-1.16.0-py2.py3-none-any.whl") and "#" not in wheel.url
    assert not sdist.has_metadata and not sdist.is_wheel
    assert old.yanked and old.url == "https://pypi.org/files/six-1.0.0-py2-none-any.whl"


def test_parse_pep691_json():
    document = {
        "meta": {"api-version": "1.1"},
        "name": "six",
        "files": [
            {
                "filename": "six-1.16.0-py2.py3-none-any.whl",
                "url": "../../files/six-1.16.0-py2.py3-none-any.whl",
                "hashes": {"sha256": "ab"},
                "requires-python": ">=2.7",
                "core-metadata": {"sha256": "cd"},
                "yanked": False,
            },
            {
                "filename": "six-1.15.0-py2.py3-none-any.whl",
                "url": "https://x.invalid/six-1.15.0-py2.py3-none-any.whl",
                "hashes": {"sha256": "ef"},
                "dist-info-metadata": False,
                "yanked": "bad release",
            },
        ],
    }
    new, old = parse_simple_json("six", "http://mirror.invalid/main/simple/six/", document)
    assert (
        new.url == "http://mirror.invalid/main/files/six-1.16.0-py2.py3-none-any.whl"
        and new.has_metadata
    )
    assert old.yanked and not old.has_metadata


def test_folder_upstream(tmp_path: Path):
    make_wheel(tmp_path / "a", "Demo_Pkg", "1.0")
    make_wheel(tmp_path / "b", "demo-pkg", "2.0")
    upstream = FolderUpstream(tmp_path)
    files = upstream.files("DEMO.pkg")
    assert sorted(f.version for f in files) == ["1.0", "2.0"]
    assert b"Name: Demo_Pkg" in upstream.metadata(
        files[0]
    ) or b"Name: demo-pkg" in upstream.metadata(files[0])
    with pytest.raises(UnknownUpstreamProject, match="no project 'other'"):
        upstream.files("other")


def test_read_wheel_metadata_finds_the_right_dist_info(tmp_path: Path):
    """A vendored project's .dist-info deeper in the wheel is not the wheel's; a second one at
    the top is refused, as pip and installer refuse it."""
    wheel = make_wheel(
        tmp_path / "vendoring",
        "demo",
        "1.0",
        extra_entries={"demo/_vendor/vendored-2.0.dist-info/METADATA": b"Name: vendored\n"},
    )
    assert b"Name: demo" in read_wheel_metadata(wheel)
    two = make_wheel(
        tmp_path / "two",
        "demo",
        "1.0",
        extra_entries={"vendored-2.0.dist-info/METADATA": b"Name: vendored\n"},
    )
    with pytest.raises(BridgeError, match="2 .dist-info directories"):
        read_wheel_metadata(two)
