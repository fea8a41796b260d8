"""Requires-Dist and Requires-Python to conda dependencies, over real-world metadata."""

import pytest
import rattler

from drawbridge.bridge.translate.deps import (
    UnexpressibleRequirement,
    python_dependency,
    translate,
)
from drawbridge.bridge.translate.names import NameTable, default_table
from drawbridge.bridge.translate.targets import Target, targets

ALL = targets(["linux-64", "osx-arm64", "win-64"], ["3.9", "3.12"])
NAMES = default_table()

# requests 2.32.3's Requires-Dist, as PyPI serves it
REQUESTS = [
    "charset-normalizer<4,>=2",
    "idna<4,>=2.5",
    "urllib3<3,>=1.21.1",
    "certifi>=2017.4.17",
    'PySocks!=1.5.7,>=1.5.6; extra == "socks"',
    'chardet<6,>=3.0.2; extra == "use-chardet-on-py3"',
]


def test_requests_is_uniform_and_reports_its_extras():
    result = translate(REQUESTS, ALL, NAMES)
    assert result.uniform and not result.varies_by_python and not result.varies_by_platform
    assert result.depends[ALL[0]] == (
        "certifi >=2017.4.17",
        "charset-normalizer <4,>=2",
        "idna <4,>=2.5",
        "urllib3 <3,>=1.21.1",
    )
    assert [d.requirement.split(";")[0] for d in result.dropped] == [
        "PySocks!=1.5.7,>=1.5.6",
        "chardet<6,>=3.0.2",
    ]
    assert all("extra" in d.reason and not d.unexpressible for d in result.dropped)


def test_requested_extra_is_kept():
    result = translate(REQUESTS, ALL, NAMES, extras=["socks"])
    assert "pysocks !=1.5.7,>=1.5.6" in result.depends[ALL[0]]


@pytest.mark.parametrize(
    ("requirement", "holds_on"),
    [
        ('colorama; sys_platform == "win32"', {"win-64"}),
        ('colorama; platform_system == "Windows"', {"win-64"}),
        ('appnope; sys_platform == "darwin"', {"osx-arm64"}),
        (
            'uvloop; sys_platform != "win32" and platform_python_implementation == "CPython"',
            {"linux-64", "osx-arm64"},
        ),
        ('pywin32>=300; os_name == "nt"', {"win-64"}),
    ],
)
def test_platform_markers_make_the_package_per_platform(requirement: str, holds_on: set[str]):
    result = translate([requirement], ALL, NAMES)
    assert result.varies_by_platform and not result.uniform
    assert {t.subdir for t, deps in result.depends.items() if deps} == holds_on


def test_python_version_markers_make_the_package_per_python():
    result = translate(
        ['tomli>=1.1; python_version < "3.11"', 'typing-extensions; python_version < "3.10"'],
        ALL,
        NAMES,
    )
    assert result.varies_by_python and not result.varies_by_platform
    old = Target("linux-64", "3.9")
    assert result.depends[old] == (
        "tomli >=1.1",
        "typing_extensions",
    )  # conda-forge's name, via grayskull
    assert result.depends[Target("linux-64", "3.12")] == ()


def test_marker_false_everywhere_is_reported_not_silent():
    result = translate(
        ['futures; python_version < "3"', 'enum34; python_version < "3.4"'], ALL, NAMES
    )
    assert result.uniform and all(deps == () for deps in result.depends.values())
    assert len(result.dropped) == 2 and "false on every target" in result.dropped[0].reason


@pytest.mark.parametrize(
    ("requirement", "message"),
    [
        ("pkg @ https://example.invalid/pkg-1.0.tar.gz", "direct URL"),
        ("pkg===1.0.0-weird", "arbitrary equality"),
        ("pkg==1.0+local", "local versions"),
        ("not a requirement !!", "not a valid PEP 508"),
    ],
)
def test_unexpressible_requirements_are_reported(requirement: str, message: str):
    result = translate([requirement], ALL, NAMES)
    assert all(deps == () for deps in result.depends.values())
    assert result.dropped[0].unexpressible and message in result.dropped[0].reason


def test_names_are_mapped_in_dependencies():
    table = NameTable().with_overrides({"torch": "pytorch"})
    result = translate(["torch>=2.0", "Pillow"], [Target("linux-64", "3.12")], table)
    assert result.depends[Target("linux-64", "3.12")] == ("pillow", "pytorch >=2.0")


@pytest.mark.parametrize(
    ("pypi_name", "conda_name"),
    [
        ("torch", "pytorch"),  # curated
        ("Torch_Geometric", "pytorch_geometric"),  # grayskull's table
        ("tables", "pytables"),
        ("msgpack", "msgpack-python"),
        ("typing-extensions", "typing_extensions"),  # grayskull knows conda-forge's spelling
        ("pywin32", "pywin32"),  # grayskull's pywin32-on-windows is a dependency alias
        ("zope.interface", "zope.interface"),  # conda-forge keeps the dots
        ("ruamel.yaml", "ruamel.yaml"),
        ("PyYAML", "pyyaml"),
        ("Some_Project", "some_project"),
        ("scikit-learn", "scikit-learn"),
    ],
)
def test_default_table_gives_conda_forge_names(pypi_name: str, conda_name: str):
    assert NAMES.conda_name(pypi_name) == conda_name


def test_learnt_spellings_name_dependencies_as_the_projects_spell_themselves():
    """Requires-Dist says `zope-interface` or `ruamel-yaml`; the packages are named as the
    upstream mirror has them, else as the projects spell themselves."""
    table = NAMES.with_spellings(["ruamel.yaml"]).with_spellings(
        ["Zope.Interface", "zope-interface"]
    )
    result = translate(
        ["zope-interface>=5", "ruamel-yaml", "pywin32"], [Target("win-64", "3.12")], table
    )
    assert result.depends[Target("win-64", "3.12")] == (
        "pywin32",
        "ruamel.yaml",
        "zope.interface >=5",
    )
    assert table.pypi_name("zope.interface") == "zope-interface"


def test_no_name_is_a_dependency_alias():
    from drawbridge.bridge.translate.names import ALIAS, grayskull_mapping

    assert not [name for name in grayskull_mapping().values() if ALIAS.search(name)]


@pytest.mark.parametrize(
    ("requires_python", "expected"),
    [
        (">=3.8", "python >=3.8"),
        (">=2.7, !=3.0.*, !=3.1.*", "python !=3.0.*,!=3.1.*,>=2.7"),
        ("~=3.9", "python ~=3.9"),
        ("", None),
        (None, None),
    ],
)
def test_python_dependency(requires_python, expected):
    assert python_dependency(requires_python) == expected


def test_invalid_requires_python():
    with pytest.raises(UnexpressibleRequirement, match="not valid"):
        python_dependency(">=3.8 and <4")


@pytest.mark.parametrize(
    ("requirement", "spec"),
    [
        ("mdurl~=0.1", "mdurl ~=0.1"),
        ("jinja2==3.*", "jinja2 3.*"),
        ("click>=8,==8.1.*", "click 8.1.*,>=8"),
        ("attrs!=21.1.*,>=20", "attrs !=21.1.*,>=20"),
    ],
)
def test_specs_parse_in_rattlers_strict_mode(requirement: str, spec: str):
    """What repodata and the upstream check carry must parse strictly (rattler's gateway does)."""
    [translated] = translate([requirement], ALL, NAMES).depends[ALL[0]]
    assert translated == spec
    rattler.MatchSpec(translated, strict=True)
