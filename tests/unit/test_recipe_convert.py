"""grayskull's v0 meta.yaml to rattler-build v1, over real grayskull output (tests/data/grayskull).

The fixtures are grayskull 3.2's recipes for real PyPI sdists, generated through
Drawbridge's own JSON API. Every conversion must also parse with rattler-build's own
v1 recipe parser.
"""

from __future__ import annotations


import pytest
from tiers import TESTS
import rattler_build
from ruamel.yaml import YAML

from drawbridge.bridge.recipes.convert import RecipeConversionError, convert, dump, v1_condition

FIXTURES = TESTS / "data" / "grayskull"


def converted(name: str, **kwargs) -> dict:
    return convert((FIXTURES / f"{name}.meta.yaml").read_text(), **kwargs)


@pytest.mark.parametrize("name", sorted(p.name.split(".")[0] for p in FIXTURES.glob("*.meta.yaml")))
def test_every_fixture_parses_as_a_v1_recipe(name: str):
    text = dump(converted(name))
    rattler_build.Stage0Recipe.from_yaml(text)
    round_trip = YAML(typ="safe").load(text)
    assert isinstance(round_trip["context"]["version"], str)
    assert round_trip["package"]["version"] == "${{ version }}"
    assert "--no-deps --no-build-isolation" in round_trip["build"]["script"]
    assert "PLEASE_ADD" not in text and "{{ PYTHON }}" not in text


@pytest.mark.parametrize(
    ("name", "path", "expected"),
    [
        ("black", ("build", "skip"), ['match(python, "<3.10")']),
        (
            "black",
            ("build", "python", "entry_points"),
            ["black = black:patched_main", "blackd = blackd:patched_main"],
        ),
        ("black", ("about", "license_file"), ["LICENSE", "src/blib2to3/LICENSE"]),
        ("black", ("about", "documentation"), "https://black.readthedocs.io/"),
        ("tomli", ("build", "noarch"), "python"),
        ("tomli", ("requirements", "host"), ["python >=3.8", "flit-core >=3.12,<5", "pip"]),
        ("tomli", ("about", "license_file"), "LICENSE"),
        ("pyyaml", ("requirements", "build"), ["${{ compiler('c') }}"]),
        ("markupsafe", ("build", "skip"), ['match(python, "<3.9")']),
    ],
)
def test_fields(name: str, path: tuple[str, ...], expected):
    value = converted(name)
    for key in path:
        value = value[key]
    assert value == expected


def test_selectors_on_list_items_become_conditionals():
    run = converted("black")["requirements"]["run"]
    assert {"if": 'match(python, "<3.11")', "then": "tomli >=1.1.0"} in run
    host = converted("pyyaml")["requirements"]["host"]
    assert {"if": 'match(python, "<3.13")', "then": "cython"} in host
    assert {"if": 'match(python, ">=3.13")', "then": "cython >=3.0"} in host


def test_tests_split_into_python_and_script():
    tests = converted("black")["tests"]
    assert tests[0] == {"python": {"imports": ["black"], "pip_check": True}}
    assert tests[1] == {"script": ["black --help", "blackd --help"]}


def test_source_url_is_replaced():
    recipe = converted("click", source_url="file:///home/cache/click-8.5.1.tar.gz")
    assert recipe["source"]["url"] == "file:///home/cache/click-8.5.1.tar.gz"
    assert len(recipe["source"]["sha256"]) == 64


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("py<310", 'match(python, "<3.10")'),
        ("py>=313", 'match(python, ">=3.13")'),
        ("py==39", 'match(python, "==3.9")'),
        ("win", "win"),
        ("linux and py<311", 'linux and match(python, "<3.11")'),
        ("py2k", 'match(python, "<3")'),
    ],
)
def test_selector_translation(selector: str, expected: str):
    assert v1_condition(selector) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("package:\n  name: x\n  version: 1\nbuild:\n  script: a  # [win]\n", "no v1 equivalent"),
        ("package: [unclosed\n", "not valid YAML"),
        ("about:\n  summary: no package\n", "no package section"),
    ],
)
def test_unconvertible_recipes_are_refused(text: str, message: str):
    with pytest.raises(RecipeConversionError, match=message):
        convert(text)


# grayskull 3.2's recipe for docopt 0.6.2 (a setup.py-only sdist), as it wrote it
DOCOPT = """{% set version = "0.6.2" %}

package:
  name: docopt
  version: {{ version }}

source:
  url: file:///cache/docopt-0.6.2.tar.gz
  sha256: 49b3a825280bd66b3aa83585ef59c4a8c82f2c8a522dbe754a8bc8d08c85c491

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
"""


def test_undefined_python_min_is_defined():
    assert convert(DOCOPT)["context"]["python_min"] == "3.9"  # conda-forge's default
    assert convert(DOCOPT, python_min="3.11")["context"]["python_min"] == "3.11"
    assert "python_min" not in convert((FIXTURES / "black.meta.yaml").read_text())["context"]


def test_setuptools_and_wheel_are_added_when_no_build_backend_is_listed():
    """setuptools before 70.1 has no bdist_wheel of its own: `wheel` goes with it."""
    assert convert(DOCOPT)["requirements"]["host"] == [
        "python ${{ python_min }}.*",
        "pip",
        "setuptools",
        "wheel",
    ]
    assert (
        "setuptools" not in converted("tomli")["requirements"]["host"]
    )  # flit-core is its backend


def test_a_compiler_means_not_noarch():
    meta = DOCOPT.replace("requirements:\n", "requirements:\n  build:\n    - {{ compiler('c') }}\n")
    recipe = convert(meta)
    assert "noarch" not in recipe["build"]  # grayskull said noarch: python beside a C compiler
    assert recipe["requirements"]["host"][0] == "python" and recipe["requirements"]["run"] == [
        "python"
    ]
    assert convert(DOCOPT)["build"]["noarch"] == "python"


def test_a_native_recipe_pinned_to_python_min_builds_for_each_python():
    """sgmllib3k: grayskull wrote no noarch but pinned python to python_min, which made a
    package for Python 3.9 alone (python_abi 3.9) that a 3.12 environment could not take."""
    meta = DOCOPT.replace("  noarch: python\n", "")
    recipe = convert(meta)
    assert "noarch" not in recipe["build"]
    assert recipe["requirements"]["host"][0] == "python"
    assert recipe["requirements"]["run"] == ["python"]
