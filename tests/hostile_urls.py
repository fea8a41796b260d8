"""Hostile request targets for every URL family, sent as they are, and what an answer to
one may not be: the in-process tier sends them to the app, the clients tier to a real
server (whose HTTP parser sees them first)."""

from __future__ import annotations

import random

from servers import RawAnswer


#: every URL family, `X` where the hostile part goes: (method, target)
FAMILIES = {
    "conda": [
        ("GET", b"/main/conda/noarch/X"),
        ("GET", b"/main/conda/X/repodata.json"),
        ("GET", b"/main/conda/noarch/shards/X"),
        ("GET", b"/X/conda/noarch/repodata.json"),
        ("GET", b"/main/conda/X"),
    ],
    "token prefix": [("GET", b"/t/X/main/simple/"), ("GET", b"/t/X/main/conda/noarch/X")],
    "simple": [
        ("GET", b"/simple/X/"),
        ("GET", b"/main/simple/X/"),
        ("GET", b"/main/simple/X"),
        ("GET", b"/X/simple/"),
        ("GET", b"/main/simple/?format=X"),
    ],
    "JSON API": [("GET", b"/main/pypi/X/json"), ("GET", b"/main/pypi/demo/X/json")],
    "files": [
        ("GET", b"/main/files/X"),
        ("HEAD", b"/files/X"),
        ("GET", b"/main/packages/source/d/X/X"),
    ],
    "upload": [("POST", b"/X/upload/"), ("POST", b"/main/upload/X")],
    "UI": [
        ("GET", b"/X/"),
        ("GET", b"/ui/recipes/X"),
        ("GET", b"/ui/recipes/X/log"),
        ("POST", b"/ui/recipes/X/decision"),
        ("GET", b"/ui/X"),
    ],
    "upstream": [
        ("GET", b"/upstream/X/noarch/repodata.json"),
        ("GET", b"/upstream/mirror/noarch/X"),
        ("GET", b"/upstream/mirror/X/repodata.json"),
        ("GET", b"/upstream/mirror/noarch/shards/X"),
    ],
    "API": [("GET", b"/api/requests?state=X"), ("GET", b"/api/X"), ("GET", b"/X")],
}


#: what an attacker or a broken client puts in a URL, %-escaped as sent
HOSTILE = [
    b"%00",
    b"demo%00.whl",
    b"%0a",
    b"%0d%0aSet-Cookie:%20x=1",
    b"%09",
    b"%7f",
    b"%ff",
    b"%c0%ae",  # an overlong '.'
    b"%ed%a0%80",  # a UTF-16 surrogate
    b"%zz",
    b"%",
    b"%e2%80%ae",  # right-to-left override
    b"%ef%bf%bf",  # a non-character
    b"%ef%bb%bf",  # a byte-order mark
    b"%e2%80%8b",  # a zero-width space
    b"%c2%a0",  # a no-break space
    b"e%cc%81",  # a combining accent
    b"%f0%9f%90%8d",  # an emoji
    b"%ef%bc%8e%ef%bc%8e",  # fullwidth dots
    b"..",
    b"%2e%2e",
    b".",
    b"..%2f..%2fdrawbridge.db",
    b"%2f",
    b"..%5c..%5c",
    b"a" * 225,  # issue 10: 225+ characters
    b"a" * 255,
    b"a" * 256,
    b"demo" * 300,
    b"%c3%a9" * 128,  # 256 bytes once decoded
    b"x" * 8000,
    b"%3cscript%3ealert(1)%3c%2fscript%3e",
    b"'%22%3e",
    b"%25",
    b"%2500",
    b"con",
    b"~",
    b"*",
    b"$(id)",
    b"demo-1.0-py3-none-any.whl.metadata%00",
]


def hostile_targets() -> list[tuple[str, bytes]]:
    return [
        (method, template.replace(b"X", hostile))
        for templates in FAMILIES.values()
        for method, template in templates
        for hostile in HOSTILE
    ]


def fuzzed_targets(count: int, seed: int = 10) -> list[tuple[str, bytes]]:
    """Seeded random targets: a family's template with random bytes %-escaped or not,
    dots, slashes and long runs (reproducible: same seed, same targets)."""
    rng = random.Random(seed)
    pieces = [b".", b"..", b"/", b"%2f", b"%2e", b"-", b"_", b"~", b"a", b"Z", b"9", b"%"]
    templates = [t for family in FAMILIES.values() for t in family]
    targets = []
    for _ in range(count):
        method, template = rng.choice(templates)
        parts = []
        for _ in range(rng.randint(1, 12)):
            roll = rng.random()
            if roll < 0.4:
                parts.append(b"".join(b"%%%02x" % rng.randrange(256) for _ in range(3)))
            elif roll < 0.8:
                parts.append(rng.choice(pieces))
            else:
                parts.append(rng.choice(pieces) * rng.randint(50, 400))
        targets.append((method, template.replace(b"X", b"".join(parts))))
    return targets


def assert_no_server_error(answer: RawAnswer, method: str, target: bytes) -> None:
    where = (method, target[:120])
    assert answer.status < 500, (*where, answer.status, answer.body[:300])
    assert b"Traceback" not in answer.body and b'File "' not in answer.body, where
