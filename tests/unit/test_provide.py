"""Which conda packages a recipe needs, and what to say about those no channel has: tables of
real requirement lines (as grayskull and conda-forge's v1 recipes write them)."""

from __future__ import annotations


import pytest

from drawbridge.bridge.missing.provide import (
    comes_from_a_mirror,
    how_to_provide,
    recipe_requirements,
)


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("python ${{ python_min }}.*", "python"),
        ("python >=${{ python_min }}", "python"),
        ("pip", "pip"),
        ("setuptools >=61", "setuptools"),
        ("${{ compiler('c') }}", "gcc_linux-64"),
        ('${{ compiler("cxx") }}', "gxx_linux-64"),
        ("${{ compiler('rust') }}", "rust"),
        ("${{ stdlib('c') }}", None),
        ("${{ pin_compatible('numpy') }}", None),
        ("typing_extensions >=4.0", "typing_extensions"),
        ("PyYAML >=5", "pyyaml"),
        ("__unix", None),  # a virtual package: the building machine's, not a channel's
    ],
)
def test_requirement_lines(line: str, name: str | None):
    recipe = f"requirements:\n  host:\n    - {line!r}\n"
    assert recipe_requirements(recipe) == ([name] if name else [])


def test_sections_and_selector_branches_in_order_without_repeats():
    recipe = """\
requirements:
  build:
    - ${{ compiler('c') }}
  host:
    - python
    - pip
    - if: win
      then: pywin32
      else:
        - ptyprocess
  run:
    - python
"""
    assert recipe_requirements(recipe) == ["gcc_linux-64", "python", "pip", "pywin32", "ptyprocess"]


@pytest.mark.parametrize(
    ("name", "mirror_only"),
    [
        ("python", True),
        ("python_abi", True),
        ("pypy3.9", True),
        ("gcc_linux-64", True),
        ("clang_osx-arm64", True),
        ("pip", False),  # a PyPI project: bridging can provide it once python is there
        ("numpy", False),
        ("pythonnet", False),
    ],
)
def test_what_only_a_mirror_provides(name: str, mirror_only: bool):
    assert comes_from_a_mirror(name) is mirror_only


def test_advice_splits_mirror_packages_from_bridgeable_ones():
    alone = how_to_provide(["docopt"])
    assert alone == [
        "bridge it from PyPI with `drawbridge bridge docopt`, or connect a conda mirror that "
        "has it (`drawbridge upstream add NAME URL|FOLDER`)"
    ]
    without_python = how_to_provide(["python", "pip", "docopt"], python_missing=True)
    assert without_python[0].startswith("python, pip come from a conda mirror, never from PyPI")
    assert "`drawbridge bridge docopt`" in without_python[1]
    assert how_to_provide(["pip"]) == [
        "bridge it from PyPI with `drawbridge bridge pip`, or connect a conda mirror that has "
        "it (`drawbridge upstream add NAME URL|FOLDER`)"
    ]
