"""PEP 691 content negotiation, against the Accept headers real clients send."""

import pytest

from drawbridge.channel.simple_pages import HTML_TYPE, JSON_TYPE
from drawbridge.server.negotiation import choose_simple_format

PIP_MODERN = f"{JSON_TYPE}, {HTML_TYPE}; q=0.1, text/html; q=0.01"
UV = f"{JSON_TYPE}, {HTML_TYPE};q=0.2, text/html;q=0.01"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/html"),  # pip 19 and older send no simple-API type
        ("", "text/html"),
        ("*/*", "text/html"),  # curl, old clients
        ("text/html", "text/html"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),  # browser
        (PIP_MODERN, JSON_TYPE),
        (UV, JSON_TYPE),
        (HTML_TYPE, HTML_TYPE),
        ("application/vnd.pypi.simple.latest+json", JSON_TYPE),
        ("application/vnd.pypi.simple.latest+html", HTML_TYPE),
        (f"{JSON_TYPE};q=0.5, {HTML_TYPE};q=0.9", HTML_TYPE),
        (f"{JSON_TYPE};q=0", None),
        ("application/vnd.pypi.simple.v2+json", None),  # a future version we do not speak
        ("image/png", None),
    ],
)
def test_choose_simple_format(accept, expected):
    assert choose_simple_format(accept) == expected


def test_format_query_parameter_wins():
    assert choose_simple_format("text/html", "json") == JSON_TYPE
    assert choose_simple_format(PIP_MODERN, "html") == HTML_TYPE
    assert choose_simple_format(None, JSON_TYPE) == JSON_TYPE
    assert choose_simple_format(None, "application/vnd.pypi.simple.latest+html") == HTML_TYPE


@pytest.mark.parametrize(
    "unknown", ["foo", "text/plain", "application/vnd.pypi.simple.v2+json", "<script>"]
)
def test_unknown_format_parameter_is_refused(unknown):
    """Never answer with a Content-Type the client made up (it was echoed back before)."""
    assert choose_simple_format("text/html", unknown) is None
