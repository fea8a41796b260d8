"""condense: rattler's solver messages (copied from real py-rattler 0.28 solves) → one reason."""

# ruff: noqa: E501  (the messages are verbatim, and the table reads best one case a line)

from __future__ import annotations

import pytest

from drawbridge.bridge.missing.solver_messages import condense

LINUX = {"__glibc": "2.17", "__linux": "3.10", "__unix": "0", "__archspec": "1"}
WIN = {"__win": "0", "__archspec": "1"}

DEPENDENCY_FOR_NEWER_PYTHON = """\
Cannot solve the request because of: app ==2.0 pyh_0 cannot be installed because there are no viable options:
└─ app 2.0 would require
   └─ lib >=1.0, which cannot be installed because there are no viable options:
      └─ lib 1.0 would require
         └─ python >=3.11,<3.12.0a0, for which no candidates were found.
"""
INDIRECT = """\
Cannot solve the request because of: top ==3.0 pyh_0 cannot be installed because there are no viable options:
└─ top 3.0 would require
   └─ app *, which cannot be installed because there are no viable options:
      └─ app 2.0 would require
         └─ lib >=1.0, which cannot be installed because there are no viable options:
            └─ lib 1.0 would require
               └─ python >=3.11,<3.12.0a0, for which no candidates were found.
"""
SEVERAL_BUILDS = """\
Cannot solve the request because of: crypto ==44 py39 cannot be installed because there are no viable options:
└─ crypto 44 would require
   └─ cffi >=1.12, which cannot be installed because there are no viable options:
      ├─ cffi 1.16 | 1.17 would require
      │  └─ python >=3.11,<3.12.0a0, for which no candidates were found.
      └─ cffi 1.16 | 1.17 would require
         └─ python >=3.10,<3.11.0a0, for which no candidates were found.
"""
ABI_CONFLICT = """\
Cannot solve the request because of: The following packages are incompatible
├─ python 3.10.* can be installed with any of the following options:
│  └─ python 3.10.1
└─ crypto ==44 py310 cannot be installed because there are no viable options:
   └─ crypto 44 would require
      └─ python_abi 3.10.* *_cp310, which cannot be installed because there are no viable options:
         └─ python_abi 3.10 would constrain
            └─ python 3.10.* *_cp310, which conflicts with any installable versions previously reported
"""
OWN_PYTHON = """\
Cannot solve the request because of: crypto ==44 py310 cannot be installed because there are no viable options:
└─ crypto 44 would require
   └─ python >=3.10,<3.11.0a0, for which no candidates were found.
"""
GLIBC = """\
Cannot solve the request because of: glibcy ==1.0 0 cannot be installed because there are no viable options:
└─ glibcy 1.0 would require
   └─ __glibc >=2.28, for which no candidates were found.
"""
UNIX_ON_WINDOWS = """\
Cannot solve the request because of: black * cannot be installed because there are no viable options:
└─ black 24 would require
   └─ click *, which cannot be installed because there are no viable options:
      └─ click 8.0 would require
         └─ __unix *, for which no candidates were found.
"""
NO_PYTHON = "Cannot solve the request because of: No candidates were found for python 3.12.*.\n"
MISSING = """\
Cannot solve the request because of: c * cannot be installed because there are no viable options:
└─ c 1.0 would require
   └─ a *, which cannot be installed because there are no viable options:
      └─ a 1.0 would require
         └─ lib <1, for which no candidates were found.
"""
CONFLICT = """\
Cannot solve the request because of: The following packages are incompatible
└─ c * cannot be installed because there are no viable options:
   └─ c 1.0 would require
      ├─ b *, which can be installed with any of the following options:
      │  └─ b 1.0 would require
      │     └─ lib >=1, which can be installed with any of the following options:
      │        └─ lib 1.0
      └─ a *, which cannot be installed because there are no viable options:
         └─ a 1.0 would require
            └─ lib <1, which cannot be installed because there are no viable options:
               └─ lib 0.5, which conflicts with the versions reported above.
"""
EXCLUDED = """\
Cannot solve the request because of: The following packages are incompatible
└─ f * cannot be installed because there are no viable options:
   └─ f 1.0 would require
      └─ dep >=2, which cannot be installed because there are no viable options:
         └─ dep 2.0 is excluded because due to strict channel priority not using this option from: 'file:///tmp/inst/up5/'
"""

TABLE = [
    (
        DEPENDENCY_FOR_NEWER_PYTHON,
        "2.7",
        "linux-64",
        LINUX,
        "nothing provides lib >=1.0 for python 2.7",
        ("lib",),
    ),
    (
        INDIRECT,
        "2.7",
        "linux-64",
        LINUX,
        "nothing provides lib >=1.0 for python 2.7 (needed by app 2.0)",
        ("lib",),
    ),
    (
        SEVERAL_BUILDS,
        "3.9",
        "linux-64",
        LINUX,
        "nothing provides cffi >=1.12 for python 3.9",
        ("cffi",),
    ),
    (
        ABI_CONFLICT,
        "3.10",
        "linux-64",
        LINUX,
        "nothing provides python_abi 3.10.* *_cp310 for python 3.10",
        ("python_abi",),
    ),
    (
        OWN_PYTHON,
        "3.11",
        "linux-64",
        LINUX,
        "needs python >=3.10,<3.11.0a0, not python 3.11",
        ("python",),
    ),
    (
        GLIBC,
        "3.11",
        "linux-64",
        LINUX,
        "needs __glibc >=2.28 but the target offers __glibc 2.17",
        ("__glibc",),
    ),
    (
        UNIX_ON_WINDOWS,
        "3.11",
        "win-64",
        WIN,
        "needs __unix, which win-64 does not offer (needed by click 8.0)",
        ("__unix",),
    ),
    (
        NO_PYTHON,
        "3.12",
        "linux-64",
        LINUX,
        "nothing provides python 3.12.* for linux-64",
        ("python",),
    ),
    (MISSING, "3.9", "linux-64", LINUX, "nothing provides lib <1 (needed by a 1.0)", ("lib",)),
    (
        CONFLICT,
        "3.9",
        "linux-64",
        LINUX,
        "lib <1 conflicts with lib >=1 (needed by a 1.0)",
        ("lib",),
    ),
    (
        EXCLUDED,
        "3.9",
        "linux-64",
        LINUX,
        "dep >=2 is only in a lower-priority channel (file:///tmp/inst/up5/), which strict channel priority excludes",
        ("dep",),
    ),
    (
        "something else entirely\nsecond line",
        "3.9",
        "linux-64",
        LINUX,
        "something else entirely",
        (),
    ),
]


@pytest.mark.parametrize(("message", "python", "subdir", "offered", "text", "missing"), TABLE)
def test_condense(
    message: str, python: str, subdir: str, offered: dict, text: str, missing: tuple
) -> None:
    reason = condense(message, python, subdir, offered)
    assert (reason.text, reason.missing) == (text, missing)
