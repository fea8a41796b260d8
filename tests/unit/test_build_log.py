"""A failed build's log says why in its first real error lines (pure, over real logs).

The files in data/build-logs/ are one Python's part of real rattler-build logs written by
Drawbridge's builds in tests/clients/test_recipe_builds.py's site (temporary paths shortened, and
rattler-build's source and solve lines before the host environment left out where the
build got that far): C-extension sdists missing a header, a library, a pkg-config package;
mysqlclient 2.3.2's real sdist (no MySQL client anywhere; setuptools >=77 for 3.9); a
setup.py that exits; setuptools 67 without `wheel`; a recipe whose import test fails.
"""

from __future__ import annotations


import pytest
from tiers import TESTS

from drawbridge.bridge.recipes.build_log import (
    LONGEST_LINE,
    Environment,
    failure_lines,
    unsolved_environment,
)

LOGS = TESTS / "data" / "build-logs"

#: meson's and CMake's words for a missing dependency, as meson-python and scikit-build-core
#: pass them through pip (written after their output; no such build runs here)
MESON = """
[info]   + meson setup /tmp/work /tmp/work/.mesonpy-x -Dbuildtype=release -Db_ndebug=if-release
[info]   The Meson build system
[info]   Project name: pycairo
[info]   Found pkg-config: YES (/usr/bin/pkg-config) 1.8.1
[info]   Run-time dependency cairo found: NO (tried pkgconfig and cmake)
[info]
[info]   ../cairo/meson.build:31:12: ERROR: Dependency "cairo" not found, tried pkgconfig and cmake
[info]
[info]   A full log can be found at /tmp/work/.mesonpy-x/meson-logs/meson-log.txt
[info]   error: subprocess-exited-with-error
[error] Script failed with status 1
"""
CMAKE = """
[info]   -- The C compiler identification is GNU 12.2.0
[info]   -- Detecting C compiler ABI info - done
[info]   CMake Error at /usr/share/cmake/Modules/FindPackageHandleStandardArgs.cmake:230 (message):
[info]     Could NOT find HDF5 (missing: HDF5_LIBRARIES HDF5_INCLUDE_DIRS) (found version "")
[info]   Call Stack (most recent call first):
[info]     CMakeLists.txt:12 (find_package)
[info]   -- Configuring incomplete, errors occurred!
[info]   *** CMake configuration failed
[info]   error: subprocess-exited-with-error
[error] Script failed with status 1
"""
TIMEOUT = (
    "[info] Building wheel for slow (pyproject.toml): started\n\n# build timed out after 3600 s\n"
)


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        (
            "gcc-missing-header.log",
            ["fastadd.c:1:10: fatal error: foo.h: No such file or directory"],
        ),
        ("ld-missing-library.log", ["/usr/bin/ld: cannot find -lfoo: No such file or directory"]),
        (
            "pkg-config-missing-package.log",
            ["Package libfoo was not found in the pkg-config search path."],
        ),
        (
            "mysqlclient-no-pkg-config-name.log",
            [
                "Exception: Can not find valid pkg-config name. "
                "Specify MYSQLCLIENT_CFLAGS and MYSQLCLIENT_LDFLAGS env vars manually"
            ],
        ),
        (
            "mysqlclient-setuptools-77-on-3.9.log",
            ["rattler-build could not make an environment (Failed to resolve dependencies)"],
        ),
        ("systemexit-in-setup-py.log", ["half-py: needs Python 3.10"]),
        ("setuptools-67-no-bdist-wheel.log", ["error: invalid command 'bdist_wheel'"]),
        ("import-test-fails.log", ["ModuleNotFoundError: No module named 'no_such_module'"]),
        (
            MESON,
            [
                "Run-time dependency cairo found: NO (tried pkgconfig and cmake)",
                '../cairo/meson.build:31:12: ERROR: Dependency "cairo" not found, tried pkgconfig '
                "and cmake",
            ],
        ),
        (
            CMAKE,
            [
                "CMake Error at /usr/share/cmake/Modules/FindPackageHandleStandardArgs.cmake:230 "
                "(message):",
                "Could NOT find HDF5 (missing: HDF5_LIBRARIES HDF5_INCLUDE_DIRS) "
                '(found version "")',
            ],
        ),
        (TIMEOUT, ["# build timed out after 3600 s"]),
        ("[info] all went well\n", []),
    ],
    ids=lambda value: value if isinstance(value, str) and value.endswith(".log") else None,
)
def test_the_first_real_error_lines(log: str, expected: list[str]):
    text = (LOGS / log).read_text() if log.endswith(".log") else log
    found = failure_lines(text)
    assert found == expected
    assert not any("Script failed" in line or "subprocess-exited" in line for line in found)


def test_at_most_a_few_short_lines():
    errors = "".join(
        f"[info]   src/m{i}.c:1:10: fatal error: h{i}.h: No such file\n" for i in range(9)
    )
    assert len(failure_lines(errors)) == 3 and len(failure_lines(errors, most=5)) == 5
    (long,) = failure_lines("[info]   error: " + "x " * 400 + "\n")
    assert len(long) == LONGEST_LINE and long.endswith("…")


def test_the_environment_rattler_build_could_not_solve():
    log = (LOGS / "mysqlclient-setuptools-77-on-3.9.log").read_text()
    assert unsolved_environment(log) == Environment(
        subdir="linux-64",
        virtual_packages=(
            ("__unix", "0", "0"),
            ("__linux", "6.18.44", "0"),
            ("__glibc", "2.36", "0"),
            ("__archspec", "1", "x86_64_v4"),
        ),
        specs=("python 3.9.*", "setuptools >=77", "pip", "wheel"),  # the host's, not build's
    )
    assert unsolved_environment((LOGS / "gcc-missing-header.log").read_text()) is None
