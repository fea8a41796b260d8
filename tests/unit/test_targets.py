"""Wheel selection per target, over real-world wheel filenames."""

import pytest

from drawbridge.bridge.errors import UnsupportedTarget
from drawbridge.bridge.translate.targets import (
    Target,
    best_wheel,
    is_pure,
    platform_tags,
    supported_tags,
)

PYYAML_6_0_2 = [
    "PyYAML-6.0.2-cp311-cp311-macosx_10_9_x86_64.whl",
    "PyYAML-6.0.2-cp311-cp311-macosx_11_0_arm64.whl",
    "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
    "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "PyYAML-6.0.2-cp311-cp311-musllinux_1_1_x86_64.whl",
    "PyYAML-6.0.2-cp311-cp311-win_amd64.whl",
    "PyYAML-6.0.2-cp311-cp311-win32.whl",
    "PyYAML-6.0.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "PyYAML-6.0.2.tar.gz",
]
CRYPTOGRAPHY_ABI3 = [
    "cryptography-43.0.0-cp37-abi3-manylinux_2_28_x86_64.whl",
    "cryptography-43.0.0-cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "cryptography-43.0.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "cryptography-43.0.0-cp37-abi3-macosx_10_9_universal2.whl",
    "cryptography-43.0.0-cp37-abi3-win_amd64.whl",
]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            Target("linux-64", "3.11"),
            "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ),
        (
            Target("linux-aarch64", "3.11"),
            "PyYAML-6.0.2-cp311-cp311-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        ),
        (Target("osx-64", "3.11"), "PyYAML-6.0.2-cp311-cp311-macosx_10_9_x86_64.whl"),
        (Target("osx-arm64", "3.11"), "PyYAML-6.0.2-cp311-cp311-macosx_11_0_arm64.whl"),
        (Target("win-64", "3.11"), "PyYAML-6.0.2-cp311-cp311-win_amd64.whl"),
        (
            Target("linux-64", "3.12"),
            "PyYAML-6.0.2-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ),
        (Target("win-64", "3.12"), None),  # no cp312 Windows wheel in the list: recipe route
        (Target("linux-64", "3.10"), None),
    ],
)
def test_best_binary_wheel(target: Target, expected: str | None):
    assert best_wheel(PYYAML_6_0_2, target) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        # manylinux_2_28 is newer than the 2_17 baseline: not allowed; the newest abi3 wins
        (
            Target("linux-64", "3.12"),
            "cryptography-43.0.0-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ),
        (
            Target("linux-64", "3.8"),
            "cryptography-43.0.0-cp37-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        ),
        (Target("osx-arm64", "3.13"), "cryptography-43.0.0-cp37-abi3-macosx_10_9_universal2.whl"),
        (Target("win-64", "3.13"), "cryptography-43.0.0-cp37-abi3-win_amd64.whl"),
    ],
)
def test_abi3_wheels_serve_every_later_python(target: Target, expected: str):
    assert best_wheel(CRYPTOGRAPHY_ABI3, target) == expected


def test_newer_manylinux_baseline_admits_newer_wheels():
    cp37_only = [w for w in CRYPTOGRAPHY_ABI3 if "cp39" not in w]
    target = Target("linux-64", "3.12")
    assert (
        best_wheel(cp37_only, target, manylinux=(2, 28))
        == "cryptography-43.0.0-cp37-abi3-manylinux_2_28_x86_64.whl"
    )
    # pip ranks the interpreter before the platform: cp39-abi3 on 2_17 beats cp37-abi3 on 2_28
    assert "cp39-abi3" in best_wheel(CRYPTOGRAPHY_ABI3, target, manylinux=(2, 28))


def test_pure_wheels_fit_everywhere_and_py2_needs_py2_tags():
    pure = ["six-1.16.0-py2.py3-none-any.whl"]
    for target in (Target("win-64", "3.13"), Target("osx-arm64", "3.9"), Target("linux-64", "2.7")):
        assert best_wheel(pure, target) == pure[0]
    assert best_wheel(["requests-2.32.3-py3-none-any.whl"], Target("linux-64", "2.7")) is None
    assert is_pure(pure[0]) and not is_pure(PYYAML_6_0_2[0]) and not is_pure("x.tar.gz")


def test_python27_binary_wheels():
    wheels = [
        "MarkupSafe-1.1.1-cp27-cp27mu-manylinux1_x86_64.whl",
        "MarkupSafe-1.1.1-cp27-cp27m-manylinux1_x86_64.whl",
        "MarkupSafe-1.1.1-cp27-cp27m-win_amd64.whl",
    ]
    assert best_wheel(wheels, Target("linux-64", "2.7")) == wheels[0]
    assert best_wheel(wheels, Target("win-64", "2.7")) == wheels[2]


def test_platform_order_and_unknown_subdir():
    assert platform_tags("linux-64")[:3] == [
        "manylinux_2_17_x86_64",
        "manylinux2014_x86_64",
        "manylinux_2_16_x86_64",
    ]
    assert "manylinux1_x86_64" in platform_tags("linux-64")
    assert platform_tags("osx-arm64")[0] == "macosx_11_0_arm64"
    assert str(supported_tags(Target("win-64", "3.11"))[0]) == "cp311-cp311-win_amd64"
    with pytest.raises(UnsupportedTarget, match="plan9"):
        platform_tags("plan9-64")
