"""What a failed build's log says went wrong: its first real error lines (pure).

rattler-build ends every failed build with "Script failed to execute" or "Failed to resolve
dependencies"; the cause is further up, in the compiler's, pkg-config's, setuptools' or
pip's output, or in the environment rattler-build could not make. `failure_lines` picks it
out of one build's part of the log, in three ranks, and keeps the best rank found:

1. causes: a compiler's `error:`/`fatal error:` line, the linker's "cannot find -lfoo",
   pkg-config's "Package foo was not found", a missing command, CMake's and meson's "not
   found", rustc's `error[E…]`, a timeout, an environment rattler-build could not solve;
2. what the build said: a Python traceback's last line (not pip's or rattler-build's own),
   setuptools' `error: …`, pip's `ERROR: …`, else the build's last words before pip's
   "subprocess-exited-with-error" (a `SystemExit` message);
3. generic failures: "command 'gcc' failed", "ld returned 1 exit status", "Command …
   returned non-zero exit status";
4. rattler-build's own message, unless it is "Script failed to execute".

`unsolved_environment` reads the environment rattler-build could not make (its platform,
virtual packages and specs), for the caller to solve again and explain: rattler-build's
Python API keeps the solver's explanation to itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: at most this many lines, each at most this long, make a result's message
MOST_LINES = 3
LONGEST_LINE = 300
UNSOLVED = "Failed to resolve dependencies"

_PREFIX = re.compile(r"^\[(?:info|warn|warning|error|debug|trace)\] ?", re.I)
_CAUSES = [
    re.compile(p)
    for p in (
        r"^\S+?:\d+(?::\d+)?: (?:fatal )?error: ",  # gcc/clang: file:line:col: error:
        r"\bfatal error: ",
        r"\bld(?:\.\w+)?: cannot find -l",  # GNU ld, gold, lld
        r"^ld: library not found for -l",  # Apple's ld
        r"\bundefined reference to ",
        r"^Package \S+ was not found in the pkg-config search path",
        r"^No package '[^']+' found",
        r"^(?:/bin/)?\S*sh: (?:\d+: )?\S+: (?:command )?not found",
        r"^CMake Error\b",
        r"\bCould NOT find \w+",
        r"(?:Run-time )?[Dd]ependency \S+ (?:found: NO|not found)",
        r"^error\[E\d+\]: ",
        r"^# build timed out after ",
    )
]
_SAID = [re.compile(p) for p in (r"^error: (?!\S+$)", r"^ERROR: ")]
_GENERIC = [
    re.compile(p, re.I)
    for p in (
        r"^error: command '[^']+' failed with exit (?:code|status) \d+",
        r"\bld returned \d+ exit status",
        r"\bCommand '.+' returned non-zero exit status \d+",
    )
]
#: lines of pip's and setuptools' own that say nothing about the cause
_CHATTER = re.compile(
    r"^(?:error: [a-z]+(?:-[a-z]+)+$|ERROR: (?:Failed (?:building|to build)|Could not build "
    r"wheels|Exception:)|×|│|╰─>|note: |hint: |Running command |Preparing metadata|"
    r"Building wheel|running |copying |creating |writing |reading |adding |Removed |Created |"
    r"full command: |cwd: |warn\(|\S*Warning: |!!|\*{8}|Script failed with status|"
    r"Script execution failed)"
)
#: exceptions that are pip's or rattler-build's own, not the build's
_OWN_EXCEPTIONS = re.compile(r"^(?:pip\._internal\.|rattler_build\.|\w*PyBuildError)")
_TRACEBACK = "Traceback (most recent call last):"
_PLATFORM = re.compile(r"^\s*Platform: (\S+) \[(.*)\]\s*$")
_LIST_ITEM = re.compile(r"^\s*- (.+?)\s*$")


@dataclass(frozen=True)
class Environment:
    """An environment rattler-build could not make, as its log states it."""

    subdir: str
    virtual_packages: tuple[tuple[str, str, str], ...]  # (name, version, build)
    specs: tuple[str, ...]


def _plain(line: str) -> str:
    """A log line without rattler-build's `[info] ` prefix (indentation kept)."""
    return _PREFIX.sub("", line.rstrip())


def _rank(text: str) -> int | None:
    if any(p.search(text) for p in _GENERIC):
        return 3
    if any(p.search(text) for p in _CAUSES):
        return 1
    if _CHATTER.match(text):
        return None
    if any(p.search(text) for p in _SAID):
        return 2
    return None


def _exception_line(lines: list[str], start: int) -> tuple[list[int], str] | None:
    """The exception a traceback at `start` ends with (and the message's next line, if the
    exception's text goes on) and the lines it took, or None for pip's and rattler-build's
    own."""
    indent = len(lines[start]) - len(lines[start].lstrip())
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) <= indent:
            text = line.strip()
            if _OWN_EXCEPTIONS.match(text) or text.startswith(_TRACEBACK):
                return None
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            if following and not _CHATTER.match(following) and _rank(following) is None:
                return [index, index + 1], f"{text} {following}"
            return [index], text
    return None


def _last_words(lines: list[str], index: int, taken: set[int]) -> tuple[int, str] | None:
    """What the build printed last before pip's "subprocess-exited-with-error" at `index`."""
    for before in range(index - 1, max(index - 6, -1), -1):
        text = lines[before].strip()
        if not text:
            continue
        if before in taken or _rank(text) is not None or _CHATTER.match(text):
            return None
        return before, text
    return None


def failure_lines(log: str, most: int = MOST_LINES) -> list[str]:
    """The first real error lines of one build's log: those of the best rank found, in the
    order they were written, at most `most`, each at most `LONGEST_LINE` characters."""
    lines = [_plain(line) for line in log.splitlines()]
    found: dict[int, tuple[int, str]] = {}  # line index -> (rank, text)
    taken: set[int] = set()  # the lines of what was found
    for index, line in enumerate(lines):
        text = line.strip()
        if text.startswith(_TRACEBACK):
            exception = _exception_line(lines, index)
            if exception and exception[0][0] not in taken:
                found[exception[0][0]] = (2, exception[1])
                taken.update(exception[0])
        elif "PyRattlerBuildError: " in text:  # rattler-build's own word, when no other
            said = text.split("PyRattlerBuildError: ", 1)[1]
            if said == UNSOLVED:
                found[index] = (1, f"rattler-build could not make an environment ({said})")
            elif said != "Script failed to execute":
                found[index] = (4, said)
        elif text == "error: subprocess-exited-with-error":
            words = _last_words(lines, index, taken | set(found))
            if words:
                found.setdefault(words[0], (2, words[1]))
        elif index not in taken:
            rank = _rank(text)
            if rank is not None:
                found[index] = (rank, text)
    if not found:
        return []
    best = min(rank for rank, _text in found.values())
    chosen = [text for _index, (rank, text) in sorted(found.items()) if rank == best]
    unique = list(dict.fromkeys(_shorten(text) for text in chosen))
    return unique[:most]


def _shorten(text: str) -> str:
    return text if len(text) <= LONGEST_LINE else text[: LONGEST_LINE - 1] + "…"


def unsolved_environment(log: str) -> Environment | None:
    """The last environment a build's log lists (platform, virtual packages, specs) when the
    build failed because rattler-build could not solve it; else None."""
    if UNSOLVED not in log:
        return None
    lines = [_plain(line) for line in log.splitlines()]
    starts = [i for i, line in enumerate(lines) if _PLATFORM.match(line)]
    if not starts:
        return None
    start = starts[-1]
    platform = _PLATFORM.match(lines[start])
    assert platform is not None
    virtual = []
    for item in platform.group(2).split(","):
        parts = item.strip().split("=")
        if len(parts) == 3 and parts[0].startswith("__"):
            virtual.append((parts[0], parts[1], parts[2]))
    specs: list[str] = []
    listing = False
    for line in lines[start + 1 :]:
        item = _LIST_ITEM.match(line)
        if line.strip() == "Specs:":
            listing = True
        elif listing and item:
            specs.append(item.group(1))
        elif listing:
            break
    if not specs:
        return None
    return Environment(platform.group(1), tuple(virtual), tuple(specs))
