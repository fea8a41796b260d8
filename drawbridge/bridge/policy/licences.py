"""SPDX licence expressions: a release's licence found, and whether allowed ids satisfy it.

Parsing and normalising is `packaging.licenses` (PEP 639, the SPDX list it ships); the
evaluation is a careful subset of SPDX's grammar: `AND`, `OR`, parentheses and `WITH`
(an exception only adds permissions, so `X WITH e` is allowed when `X` is). The
`license-expression` library does more (licence aliases, simplification) but weighs
megabytes of licence data nothing here needs.

A release's licence is, in order: its `License-Expression` (metadata 2.4); its `License`
field when that is a valid SPDX expression (`MIT`, `Apache-2.0`); one unambiguous
trove classifier (`CLASSIFIERS`). Anything else is unknown, and policy holds it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression

#: trove classifiers that name exactly one SPDX licence (the "BSD", "GPL" and "Apache
#: Software License" classifiers name no version or clause count: unknown)
CLASSIFIERS = {
    "License :: OSI Approved :: MIT License": "MIT",
    "License :: OSI Approved :: ISC License (ISCL)": "ISC",
    "License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "License :: OSI Approved :: Python Software Foundation License": "PSF-2.0",
    "License :: OSI Approved :: The Unlicense (Unlicense)": "Unlicense",
    "License :: CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}
TOKEN = re.compile(r"\(|\)|[^\s()]+")


def canonical(expression: str) -> str | None:
    """`expression` normalised as SPDX, or None if it is not one."""
    try:
        return str(canonicalize_license_expression(expression))
    except (InvalidLicenseExpression, ValueError):
        return None


def licence_of(metadata: Mapping[str, object]) -> str | None:
    """The SPDX expression a release's core metadata declares (see the module), or None."""
    for key in ("license_expression", "license"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip() and "\n" not in value.strip():
            found = canonical(value.strip())
            if found:
                return found
    named = {CLASSIFIERS[c] for c in metadata.get("classifiers") or () if c in CLASSIFIERS}  # type: ignore[attr-defined]
    return named.pop() if len(named) == 1 else None


def satisfied(expression: str, allowed: Collection[str]) -> bool:
    """True if licences in `allowed` (SPDX ids, any case) satisfy the canonical
    `expression`: every side of an AND, some side of an OR."""
    ids = {canonical(a) or a for a in allowed}
    tokens = TOKEN.findall(expression)
    value, rest = _or(tokens, ids)
    return value and not rest


def _or(tokens: list[str], ids: set[str]) -> tuple[bool, list[str]]:
    value, tokens = _and(tokens, ids)
    while tokens and tokens[0] == "OR":
        right, tokens = _and(tokens[1:], ids)
        value = value or right
    return value, tokens


def _and(tokens: list[str], ids: set[str]) -> tuple[bool, list[str]]:
    value, tokens = _atom(tokens, ids)
    while tokens and tokens[0] == "AND":
        right, tokens = _atom(tokens[1:], ids)
        value = value and right
    return value, tokens


def _atom(tokens: list[str], ids: set[str]) -> tuple[bool, list[str]]:
    if not tokens:
        return False, tokens
    if tokens[0] == "(":
        value, tokens = _or(tokens[1:], ids)
        return value, tokens[1:] if tokens and tokens[0] == ")" else tokens
    licence, tokens = tokens[0], tokens[1:]
    if tokens and tokens[0] == "WITH" and len(tokens) > 1:
        tokens = tokens[2:]
    return licence in ids, tokens
