"""`[policy]` decisions, SPDX licences and OSV matching, from tables of real inputs."""

from __future__ import annotations

import pytest

from drawbridge.bridge.errors import PolicyError
from drawbridge.bridge.policy.licences import licence_of, satisfied
from drawbridge.bridge.policy.osv import affects, compact, cvss3_score, severity
from drawbridge.bridge.policy.rules import Advisory, Policy, Release


@pytest.mark.parametrize(
    "metadata, expected",
    [
        ({"license_expression": "mit OR apache-2.0"}, "MIT OR Apache-2.0"),
        ({"license": "BSD-3-Clause"}, "BSD-3-Clause"),
        ({"license": "MIT License"}, None),  # free text: unknown
        ({"license": "Copyright (c) 2020\nAll rights reserved"}, None),
        ({"classifiers": ["License :: OSI Approved :: MIT License"]}, "MIT"),
        ({"classifiers": ["License :: OSI Approved :: BSD License"]}, None),  # which BSD?
        (
            {
                "classifiers": [
                    "License :: OSI Approved :: MIT License",
                    "License :: OSI Approved :: ISC License (ISCL)",
                ]
            },
            None,
        ),
        ({}, None),
    ],
)
def test_the_licence_a_release_declares(metadata: dict, expected: str | None):
    assert licence_of(metadata) == expected


@pytest.mark.parametrize(
    "expression, allowed, expected",
    [
        ("MIT", ["mit"], True),
        ("GPL-3.0-only", ["MIT", "BSD-3-Clause"], False),
        ("MIT OR GPL-3.0-only", ["MIT"], True),
        ("MIT AND GPL-3.0-only", ["MIT"], False),
        ("(MIT OR Apache-2.0) AND BSD-3-Clause", ["Apache-2.0", "BSD-3-Clause"], True),
        ("GPL-2.0-only WITH Classpath-exception-2.0", ["GPL-2.0-only"], True),
        ("Apache-2.0 AND (MIT OR GPL-2.0-only)", ["Apache-2.0"], False),
    ],
)
def test_allowed_licences_satisfy_an_expression(expression: str, allowed: list, expected: bool):
    assert satisfied(expression, allowed) is expected


def test_policy_gives_every_reason_to_hold():
    policy = Policy.parse(block=["evil", "requests<2.20"], licences=["MIT"], max_severity="high")
    assert policy.reasons(Release("requests", "2.19.0", "MIT")) == [
        "blocked by [policy] block: requests<2.20"
    ]
    assert policy.reasons(Release("requests", "2.31.0", "MIT")) == []
    assert policy.reasons(Release("Evil", "1", "MIT"))[0] == "blocked by [policy] block: evil"
    assert policy.reasons(Release("x", "1", "GPL-3.0-only")) == [
        "licence GPL-3.0-only is not among [policy] licenses"
    ]
    assert policy.reasons(Release("x", "1", None)) == ["licence unknown: a maintainer must read it"]
    advisories = [
        Advisory("GHSA-1", "medium"),
        Advisory("GHSA-2", "critical", "bad"),
        Advisory("PYSEC-3", ""),
    ]
    assert policy.reasons(Release("x", "1", "MIT"), advisories) == [
        "advisory GHSA-2 (critical): bad",
        "advisory PYSEC-3 (severity not given)",
    ]
    allow = Policy.parse(allow=["numpy>=1.26"])
    assert allow.reasons(Release("numpy", "1.25.0", None)) == ["not in [policy] allow"]
    assert allow.allows_project("numpy") and not allow.allows_project("pandas")
    assert not policy.allows_project("evil") and policy.allows_project("requests")


@pytest.mark.parametrize(
    "settings, said",
    [
        ({"block": ["not a requirement!"]}, "block: 'not a requirement!' is not a PEP 508"),
        ({"licences": ["MIT License"]}, "'MIT License' is not an SPDX licence id"),
        ({"max_severity": "severe"}, "'severe' is none of low, medium, high, critical"),
    ],
)
def test_a_wrong_policy_is_named(settings: dict, said: str):
    with pytest.raises(PolicyError, match=said):
        Policy.parse(**settings)


@pytest.mark.parametrize(
    "vector, score",
    [  # scores as NVD's calculator gives them
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.0/AV:L/AC:H/PR:L/UI:N/S:U/C:L/I:N/A:N", 2.5),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
        ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", None),
    ],
)
def test_cvss3_base_scores(vector: str, score: float | None):
    assert cvss3_score(vector) == score


def test_osv_entries_match_by_range_and_by_listed_version():
    document = {
        "id": "GHSA-xxxx",
        "summary": "a flaw",
        "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Some_Project"},
                "ranges": [
                    {
                        "type": "ECOSYSTEM",
                        "events": [
                            {"introduced": "0"},
                            {"fixed": "1.2"},
                            {"introduced": "2.0"},
                            {"last_affected": "2.1"},
                        ],
                    }
                ],
                "versions": ["3.0rc1"],
            },
            {"package": {"ecosystem": "npm", "name": "some-project"}, "versions": ["1.0"]},
        ],
    }
    assert severity(document) == "critical"
    (entry,) = compact(document)["some-project"]
    matched = {
        v: affects(entry, v)
        for v in ("0.1", "1.1.9", "1.2", "1.5", "2.0", "2.1", "2.1.1", "3.0rc1", "3.0")
    }
    assert matched == {
        "0.1": True,
        "1.1.9": True,
        "1.2": False,
        "1.5": False,
        "2.0": True,
        "2.1": True,
        "2.1.1": False,
        "3.0rc1": True,
        "3.0": False,
    }
    assert compact({**document, "withdrawn": "2024-01-01T00:00:00Z"}) == {}
    assert severity({"database_specific": {"severity": "MODERATE"}}) == "medium"
