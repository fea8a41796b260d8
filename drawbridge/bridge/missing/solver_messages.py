"""Condense rattler's solver error into the line that names what is missing.

rattler explains a failed solve as a tree: the package asked for, the candidates tried,
each one's requirements, down to leaves such as "…, for which no candidates were found".
A reader wants the missing piece: "nothing provides cffi >=1.12 for python 3.9". Pure
logic over the message text; the rules are in `condense`'s docstring.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

_MARK = re.compile(r"[└├]─ ")
_REQUIREMENT = re.compile(
    r"^(?P<spec>.+?),? which (?:cannot|can) be installed\b"
    r"|^(?P<top>.+?) cannot be installed because"
)
_CANDIDATE = re.compile(r"^(?P<candidate>.+?) would (?:require|constrain)$")
_NOTHING = re.compile(r"^(?P<spec>.+), for which no candidates were found\.?$")
_NOTHING_TOP = re.compile(r"^No candidates were found for (?P<spec>.+?)\.?$")
_CONFLICT = re.compile(
    r"^(?P<spec>.+), which conflicts with "
    r"(?:any installable versions previously reported|the versions reported above)\.?$"
)
_EXCLUDED = re.compile(r"^(?P<spec>.+?) is excluded because (?P<why>.+)$")
_PYTHON_NAMES = ("python", "python_abi")
#: a line of the tree: a requirement, a candidate, other text, or a leaf (the rest)
NodeKind = Literal["requirement", "candidate", "other", "nothing", "conflict", "excluded"]


@dataclass(frozen=True)
class Reason:
    """Why one package does not install on one target, in words, and the names it lacks."""

    text: str
    missing: tuple[str, ...] = ()
    detail: str = field(default="", compare=False, repr=False)  # the solver's own message


@dataclass(frozen=True)
class _Node:
    depth: int
    text: str
    kind: NodeKind
    spec: str

    @property
    def name(self) -> str:
        return self.spec.split()[0] if self.spec else ""


def condense(message: str, python: str, subdir: str, offered: Mapping[str, str]) -> Reason:
    """The reason a solve for a target (`python` "X.Y", `subdir`) failed, from rattler's message.

    `offered` maps the target's virtual package names to their versions. For each leaf of
    the tree, the missing piece is named:

    - a leaf on `python`/`python_abi` means a requirement exists only for other Pythons:
      "nothing provides cffi >=1.12 for python 3.9" (the nearest requirement above it);
    - a virtual package: "needs __glibc >=2.28 but the target offers __glibc 2.17";
    - anything else: "nothing provides lib <1", or a conflict, or strict-priority exclusion.

    " (needed by X)" follows when the requirement is not the asked package's own. The
    leaves' reasons are joined with "; "; a message of another shape keeps its first line.
    """
    nodes = _parse(message)
    reasons: list[str] = []
    missing: list[str] = []
    for index, node in enumerate(nodes):
        if node.kind in ("requirement", "candidate", "other"):
            continue
        text, name = _explain(nodes, index, python, subdir, offered)
        if text not in reasons:
            reasons.append(text)
        if name and name not in missing:
            missing.append(name)
    if not reasons:
        first = next((n.text for n in nodes if n.text), message.strip())
        return Reason(first.rstrip(":."), (), message)
    return Reason("; ".join(reasons), tuple(missing), message)


def _parse(message: str) -> list[_Node]:
    body = message.split("because of:", 1)[-1] if "because of:" in message else message
    nodes = []
    for line in body.splitlines():
        if not line.strip():
            continue
        mark = _MARK.search(line)
        depth = mark.start() if mark else -1
        text = (line[mark.end() :] if mark else line).strip()
        nodes.append(_classify(depth, text))
    return nodes


def _classify(depth: int, text: str) -> _Node:
    kinds: tuple[tuple[NodeKind, re.Pattern[str]], ...] = (
        ("nothing", _NOTHING),
        ("nothing", _NOTHING_TOP),
        ("conflict", _CONFLICT),
        ("excluded", _EXCLUDED),
    )
    for kind, pattern in kinds:
        match = pattern.match(text)
        if match:
            return _Node(depth, text, kind, _plain(match.group("spec")))
    match = _CANDIDATE.match(text)
    if match:
        return _Node(depth, text, "candidate", match.group("candidate"))
    match = _REQUIREMENT.match(text)
    if match:
        return _Node(depth, text, "requirement", _plain(match.group("spec") or match.group("top")))
    return _Node(depth, text, "other", "")


def _plain(spec: str) -> str:
    """A spec as a person writes it: `app *` is just `app`."""
    return spec[:-2] if spec.endswith(" *") else spec


def _ancestors(nodes: list[_Node], index: int) -> list[int]:
    """The indexes of the nodes above `index` in the tree, nearest first."""
    found, depth = [], nodes[index].depth
    for above in range(index - 1, -1, -1):
        if nodes[above].depth < depth:
            found.append(above)
            depth = nodes[above].depth
    return found


def _explain(
    nodes: list[_Node], index: int, python: str, subdir: str, offered: Mapping[str, str]
) -> tuple[str, str]:
    leaf = nodes[index]
    above = _ancestors(nodes, index)
    requirements = [i for i in above if nodes[i].kind == "requirement"]
    # the spec the leaf is about: for a candidate leaf ("lib 0.5, which conflicts…",
    # "dep 2.0 is excluded…") the requirement above it, otherwise the leaf itself
    if above and nodes[above[0]].kind == "requirement":
        wanted_index, outer = requirements[0], requirements[1:]
    else:
        wanted_index, outer = index, requirements
    wanted = nodes[wanted_index]
    if wanted.name in _PYTHON_NAMES:
        if len(outer) >= 2:  # a dependency that exists only for other Pythons
            needed = nodes[outer[0]]
            return (
                f"nothing provides {needed.spec} for python {python}{_needed_by(nodes, outer[0])}",
                needed.name,
            )
        if outer:  # the asked package itself wants another Python
            return f"needs {wanted.spec}, not python {python}", wanted.name
        return f"nothing provides {wanted.spec} for {subdir}", wanted.name
    via = _needed_by(nodes, wanted_index)
    if wanted.name.startswith("__"):
        if wanted.name in offered:
            has = f"{wanted.name} {offered[wanted.name]}"
            return f"needs {wanted.spec} but the target offers {has}{via}", wanted.name
        return f"needs {wanted.spec}, which {subdir} does not offer{via}", wanted.name
    if leaf.kind == "excluded":
        where = re.search(r"'([^']+)'", leaf.text)
        channel = f" ({where.group(1)})" if where else ""
        excluded = "which strict channel priority excludes"
        return (
            f"{wanted.spec} is only in a lower-priority channel{channel}, {excluded}{via}",
            wanted.name,
        )
    if leaf.kind == "conflict":
        others = sorted(
            {
                n.spec
                for n in nodes
                if n.kind == "requirement" and n.name == wanted.name and n.spec != wanted.spec
            }
        )
        against = ", ".join(others) if others else "the rest of the environment"
        return f"{wanted.spec} conflicts with {against}{via}", wanted.name
    return f"nothing provides {wanted.spec}{via}", wanted.name


def _needed_by(nodes: list[_Node], index: int) -> str:
    """ " (needed by X)": the candidate that asks for the spec at `index`, unless that
    candidate is the package the solve was asked for (it has one requirement above it)."""
    above = _ancestors(nodes, index)
    candidate = next((i for i in above if nodes[i].kind == "candidate"), None)
    if candidate is None:
        return ""
    if sum(1 for i in _ancestors(nodes, candidate) if nodes[i].kind == "requirement") <= 1:
        return ""
    return f" (needed by {nodes[candidate].spec})"
