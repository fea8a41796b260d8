"""PEP 691 content negotiation: pick the simple-index format a client's Accept asks for."""

from __future__ import annotations

from functools import lru_cache

from drawbridge.channel.simple_pages import HTML_TYPE, JSON_TYPE

#: what we can serve, in our order of preference when a client weighs them equally
OFFERS = (JSON_TYPE, HTML_TYPE, "text/html")
ALIASES = {
    "application/vnd.pypi.simple.latest+json": JSON_TYPE,
    "application/vnd.pypi.simple.latest+html": HTML_TYPE,
}
FORMAT_PARAMETER = {"json": JSON_TYPE, "html": HTML_TYPE}


@lru_cache(maxsize=256)
def choose_simple_format(accept: str | None, format_parameter: str | None = None) -> str | None:
    """The media type to answer with, or None if nothing acceptable can be served (406).

    No Accept header means HTML, as PEP 691 asks for backwards compatibility. `?format=`
    (json, html, or a media type we serve) overrides Accept; anything else is a 406.
    """
    if format_parameter:
        asked = FORMAT_PARAMETER.get(format_parameter) or ALIASES.get(
            format_parameter, format_parameter
        )
        return asked if asked in OFFERS else None
    if not accept:
        return "text/html"
    best: tuple[float, int] | None = None
    chosen: str | None = None
    for position, item in enumerate(accept.split(",")):
        media, _, parameters = item.strip().partition(";")
        media = ALIASES.get(media.strip().lower(), media.strip().lower())
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media in ("*/*", "text/*"):
            candidates = ["text/html"]  # a wildcard is an old client or a browser: HTML
        else:
            candidates = [offer for offer in OFFERS if media == offer]
        if not candidates or quality <= 0:
            continue
        rank = (quality, -position)
        if best is None or rank > best:
            best, chosen = rank, candidates[0]
    return chosen
