"""What the sdist says corrects grayskull: build requirements, compilers, licence files; the
reviewer sees the upstream URL and sha256, the site's maintainers and notes (pure, fast)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import rattler_build
from builders import make_sdist
from ruamel.yaml import YAML

from drawbridge.bridge.recipes import native_needs
from drawbridge.bridge.translate.names import default_table
from drawbridge.bridge.recipes.native_needs import NativeNeed, provisions
from drawbridge.bridge.recipes.compose import (
    Origin,
    build_requirements,
    compose_recipe,
    review_notes,
)
from drawbridge.bridge.recipes.sdist_facts import SdistFacts, UnreadableSdist, read_sdist_facts

NAMES = default_table()
BOTH = ["3.9", "3.12"]
SETUPTOOLS = "setuptools.build_meta"


@pytest.mark.parametrize(
    ("requires", "backend", "pythons", "expected"),
    [
        (None, "", BOTH, ["setuptools", "wheel"]),  # setup.py alone: pip's legacy fallback
        ((), "", BOTH, ["setuptools", "wheel"]),
        (("setuptools>=61",), SETUPTOOLS, BOTH, ["setuptools >=61", "wheel"]),
        (("setuptools>=40.8.0", "wheel"), SETUPTOOLS, BOTH, ["setuptools >=40.8.0", "wheel"]),
        (("hatchling",), "hatchling.build", BOTH, ["hatchling"]),
        (
            ("hatchling>=1.18", "hatch-vcs"),
            "hatchling.build",
            BOTH,
            ["hatchling >=1.18", "hatch-vcs"],
        ),
        (("flit_core >=3.2,<4",), "flit_core.buildapi", BOTH, ["flit-core <4,>=3.2"]),
        (("poetry-core>=1.0.0",), "poetry.core.masonry.api", BOTH, ["poetry-core >=1.0.0"]),
        (
            ("setuptools>=45", "setuptools_scm[toml]>=6.2"),
            SETUPTOOLS,
            BOTH,
            ["setuptools >=45", "setuptools-scm >=6.2", "wheel"],
        ),
        (
            ("flit_core", 'tomli; python_version < "3.11"'),
            "flit_core.buildapi",
            BOTH,
            ["flit-core", {"if": 'match(python, "3.9.*")', "then": "tomli"}],
        ),
        (
            ("flit_core", 'tomli; python_version < "3.11"'),
            "flit_core.buildapi",
            ["3.12"],
            ["flit-core"],
        ),
        (
            ("oldest-supported-numpy", "setuptools"),
            SETUPTOOLS,
            BOTH,
            ["numpy", "setuptools", "wheel"],
        ),
    ],
    ids=[
        "setup.py",
        "empty build-system",
        "setuptools",
        "setuptools+wheel",
        "hatchling",
        "hatch-vcs",
        "flit",
        "poetry-core",
        "setuptools-scm",
        "marker some Pythons",
        "marker no Python",
        "oldest-supported-numpy",
    ],
)
def test_build_requirements_from_the_sdist(requires, backend, pythons, expected):
    facts = SdistFacts("x-1.tar.gz", build_requires=requires, build_backend=backend)
    assert build_requirements(facts, NAMES, pythons) == expected


def _zip_sdist(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zipped-1.0.zip"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    path.write_bytes(buffer.getvalue())
    return path


def test_sdist_facts_from_tar_and_zip(tmp_path: Path):
    members = {
        "cfast-1.0/src/speed.c": b"",
        "cfast-1.0/src/more.cpp": b"",
        "cfast-1.0/tests/fixture.c": b"",  # not built into the package
        "cfast-1.0/docs/example.pyx": b"",
        "cfast-1.0/COPYING": b"GPL",
        "cfast-1.0/PKG-INFO": b"Metadata-Version: 2.1\nName: cfast\nVersion: 1.0\nLicense: GPL-3\n",
    }
    facts = read_sdist_facts(make_sdist(tmp_path, "cfast", "1.0", members=members))
    assert facts.compiled_sources == ("src/more.cpp", "src/speed.c")
    assert facts.compilers == ("c", "cxx") and not facts.uses_cython
    assert facts.licence_files == ("COPYING",) and facts.licence_metadata == "GPL-3"
    assert facts.build_requires == ("setuptools>=61",) and facts.build_backend == SETUPTOOLS
    zipped = read_sdist_facts(
        _zip_sdist(
            tmp_path / "z",
            {
                "zipped-1.0/setup.py": b"",
                "zipped-1.0/fast.pyx": b"",
                "zipped-1.0/PKG-INFO": b"Metadata-Version: 2.4\nLicense-Expression: MIT\n",
            },
        )
    )
    assert zipped.build_requires is None and zipped.uses_cython and zipped.compilers == ("c",)
    assert zipped.licence_files == () and zipped.licence_metadata == "MIT"
    broken = tmp_path / "broken-1.0.tar.gz"
    broken.write_bytes(b"\x1f\x8b not really")
    with pytest.raises(UnreadableSdist, match="broken-1.0.tar.gz: cannot read the sdist"):
        read_sdist_facts(broken)


#: grayskull 3.2's meta.yaml for crcmod 1.7 (noarch, though the sdist compiles C), as it
#: wrote it offline: no licence file in this version of the sdist
CRCMOD = """{% set version = "1.7" %}

package:
  name: crcmod
  version: {{ version }}

source:
  url: file:///tmp/sdists/crcmod-1.7.tar.gz
  sha256: dc7051a0db5f2bd48665a990d3ec1cc305a466a77358ca4492826f41f283601e

build:
  noarch: python
  script: {{ PYTHON }} -m pip install . -vv
  number: 0

requirements:
  host:
    - python {{ python_min }}.*
    - pip
  run:
    - python >={{ python_min }}

test:
  imports:
    - crcmod
  commands:
    - pip check
  requires:
    - pip
    - python {{ python_min }}.*

about:
  home: http://crcmod.sourceforge.net/
  summary: CRC Generator
  license: MIT
  license_file: PLEASE_ADD_LICENSE_FILE

extra:
  recipe-maintainers:
    - drawbridge-maintainers
"""
ORIGIN = Origin(
    "https://files.pythonhosted.org/packages/6b/b0/e595ce2a2527e169c3bcd6c33d2473c1918e0b7f6826a043ca1245dd4e5b/crcmod-1.7.tar.gz",
    "dc7051a0db5f2bd48665a990d3ec1cc305a466a77358ca4492826f41f283601e",
)


def _compose(facts: SdistFacts, maintainers: list[str]) -> tuple[str, dict]:
    text = compose_recipe(CRCMOD, facts, ORIGIN, NAMES, "3.9", BOTH, maintainers)
    rattler_build.Stage0Recipe.from_yaml(text)  # rattler-build reads it
    return text, YAML(typ="safe").load(text)


def test_compiled_sources_make_a_noarch_recipe_native():
    facts = SdistFacts(
        "crcmod-1.7.tar.gz",
        compiled_sources=("python2/src/_crcfunext.c", "python3/src/_crcfunext.c"),
        licence_files=("LICENSE",),
        licence_metadata="MIT",
    )
    text, recipe = _compose(facts, ["mia", "bo"])
    assert "noarch" not in recipe["build"]
    assert recipe["requirements"]["build"] == ["${{ compiler('c') }}"]
    assert recipe["requirements"]["host"] == ["python", "pip", "setuptools", "wheel"]
    assert recipe["requirements"]["run"] == ["python"]
    assert recipe["source"] == {"url": ORIGIN.url, "sha256": ORIGIN.sha256}
    assert recipe["extra"] == {"recipe-maintainers": ["mia", "bo"]}
    note, licence = review_notes(text)  # maintainers are configured: no note about them
    assert licence.startswith("licence file missing")
    assert note.startswith("built per platform and Python: grayskull wrote noarch: python")
    assert "python3/src/_crcfunext.c" in note


def test_the_reviewer_is_told_what_is_missing():
    facts = SdistFacts("crcmod-1.7.tar.gz", licence_metadata="MIT License")
    text, recipe = _compose(facts, [])
    assert recipe["build"]["noarch"] == "python"
    assert recipe["extra"] == {"recipe-maintainers": []}
    assert "license_file" not in recipe["about"] and recipe["about"]["license"] == "MIT"
    notes = review_notes(text)
    assert [n.split(":")[0] for n in notes] == ["no maintainers", "licence file missing"]
    assert "[recipes] maintainers in drawbridge.toml" in notes[0]
    assert "'MIT License'" in notes[1] and "nothing was looked up on the internet" in notes[1]
    assert text.startswith("# REVIEW: no maintainers")


def test_the_reviewer_is_told_which_c_library_the_build_looks_for():
    """Each C library the build looks for that host lacks, with the conda packages that
    would provide it, and whether a conda channel here carries one (mysqlclient's failure)."""
    found = provisions(
        [
            NativeNeed("pkg-config", "mysqlclient", "setup.py"),
            NativeNeed("header", "mysql.h", "src/MySQLdb/_mysql.c"),
            NativeNeed("config", "pg_config", "setup.py"),
            NativeNeed("header", "foo.h", "src/x.c"),
        ],
        native_needs.default_table(),
    )
    facts = SdistFacts("x-1.tar.gz", compiled_sources=("src/x.c",), licence_files=("LICENSE",))

    def notes(carried: frozenset[str] | None, meta: str = CRCMOD) -> list[str]:
        text = compose_recipe(meta, facts, ORIGIN, NAMES, "3.9", BOTH, ["mia"], (), found, carried)
        rattler_build.Stage0Recipe.from_yaml(text)
        return [note for note in review_notes(text) if note.startswith("C library")]

    mysql, libpq, foo = notes(frozenset())
    assert mysql.startswith(
        "C library: the build looks for the MySQL/MariaDB client library (setup.py: "
        "pkg-config mysqlclient; src/MySQLdb/_mysql.c: <mysql.h>), and no conda channel "
        "here carries a package that provides it (conda-forge's: mysql-devel, "
        "mysql-connector-c, libmysqlclient, mariadb-connector-c)"
    )
    assert mysql.endswith("requirements.host, with pkg-config in requirements.build.")
    assert "libpq (setup.py: pg_config)" in libpq and "(conda-forge's: libpq)" in libpq
    assert foo == (
        "C library: the build looks for <foo.h> (src/x.c), which the sdist does not ship and "
        "Drawbridge's table of C libraries (c-libraries.toml) does not know: add the conda "
        "package that provides it to requirements.host."
    )
    _mysql, libpq, _foo = notes(frozenset({"libpq"}))
    assert libpq.endswith("A conda channel here carries libpq: add libpq to requirements.host.")
    _mysql, libpq, _foo = notes(None)  # the channels could not be asked
    assert libpq.endswith(
        ": add the conda package that provides it to requirements.host (conda-forge's: libpq)."
    )
    # a host requirement that provides it: no note for it
    with_libpq = CRCMOD.replace("    - pip\n  run:", "    - pip\n    - libpq\n  run:")
    assert with_libpq != CRCMOD
    assert [n.split(" (")[0] for n in notes(frozenset(), with_libpq)] == [
        "C library: the build looks for the MySQL/MariaDB client library",
        "C library: the build looks for <foo.h>",
    ]
