"""The web UI's page shell: one template, the security headers every page carries, and the
HTML error page a browser gets instead of JSON.

The pages need no image, no font and no frame: one inline stylesheet (allowed by its hash,
so no `'unsafe-inline'`), links, forms posting to this server, and one script file served
by Drawbridge itself (`/static/ui.js`: the copy buttons; every page works without it). The
Content-Security-Policy says exactly that (`script-src 'self'`: no inline script, no other
origin), so markup that slipped past escaping could still run nothing.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
from collections.abc import Mapping
from http import HTTPStatus

from fastapi.responses import HTMLResponse

#: routes tagged with it are pages of the web UI: their errors are HTML pages too
UI_TAG = "web UI"

STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "code{background:#f3f3f3;padding:.1rem .3rem}td,th{text-align:left;padding:.2rem .8rem}"
    "pre{background:#f7f7f7;padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere}"
    ".add{color:#116611;background:#e6ffe6}.del{color:#aa1111;background:#ffe6e6}"
    ".pending{color:#9a6700}.approved,.built{color:#116611}.rejected,.failed{color:#aa1111}"
    ".error{color:#aa1111}"
    ".muted{color:#555}.yanked{color:#aa1111;font-weight:bold}.scroll{overflow-x:auto}"
    "code.hash{font-size:.8em;overflow-wrap:anywhere}table{border-collapse:collapse}"
    "caption{text-align:left;font-weight:bold;padding:.4rem 0}tr{border-top:1px solid #ddd}"
    ".snippet{margin-bottom:.6rem}.snippet h3{margin:.3rem 0;font-size:1rem}"
    ".snippet pre{margin:.2rem 0}ul.projects,ul.tree{padding-left:1.2rem}"
    "input,button{font:inherit;padding:.2rem .5rem}a:focus,button:focus,input:focus"
    "{outline:3px solid #1a5fb4;outline-offset:2px}"
    "code{overflow-wrap:anywhere}"
    "@media (max-width:40rem){body{margin:1rem auto}td,th{padding:.2rem .4rem}"
    "table{display:block;overflow-x:auto}}"
)
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; object-src 'none'; "
    f"style-src 'sha256-{STYLE_HASH}'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
#: what every page of the web UI is sent with (error pages included)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # a page reached through /t/<token>/ must not hand its URL to the next site
    "Referrer-Policy": "no-referrer",
}


def render_page(title: str, body: str, script: str | None = None) -> str:
    """A whole page; `title` and `body` are HTML already (escape what they quote); `script`
    the path of this server's script file the page loads (deferred), if any."""
    loads = f'<script src="{html.escape(script, quote=True)}" defer></script>\n' if script else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>\n<style>{STYLE}</style>\n{loads}</head>"
        f"<body><main>{body}</main></body></html>"
    )


#: pages smaller than this go as they are (gzip would save less than a packet)
GZIP_MIN_SIZE = 1400


def gzipped(response: HTMLResponse, accept_encoding: str) -> HTMLResponse:
    """`response` with its body gzipped if the client accepts gzip (`Accept-Encoding`) and
    the body is worth it; `Vary: Accept-Encoding` either way, for caches."""
    response.headers["Vary"] = "Accept-Encoding"
    accepted = {
        coding.split(";")[0].strip().lower()
        for coding in accept_encoding.split(",")
        if not coding.replace(" ", "").endswith(";q=0")
    }
    if "gzip" not in accepted or len(response.body) < GZIP_MIN_SIZE:
        return response
    response.body = gzip.compress(response.body, compresslevel=6, mtime=0)
    response.headers["Content-Encoding"] = "gzip"
    response.headers["Content-Length"] = str(len(response.body))
    return response


def page_response(
    title: str,
    body: str,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    script: str | None = None,
) -> HTMLResponse:
    """A page of the web UI with its security headers."""
    return HTMLResponse(
        render_page(title, body, script),
        status_code=status,
        headers={**PAGE_HEADERS, **(headers or {})},
    )


def error_page(
    status: int, detail: str, home: str, headers: Mapping[str, str] | None = None
) -> HTMLResponse:
    """A browser's answer to a failed request: the status kept, the message escaped, and a
    link to `home` (the front page, under the `/t/<token>/` prefix if the request had one)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    hint = (
        "<p>Sign in with the user name <code>__token__</code> and your token as the "
        "password, or open this server through <code>/t/&lt;token&gt;/</code>.</p>"
        if status == 401
        else ""
    )
    body = (
        f"<h1>{status} {html.escape(phrase)}</h1><p class='error'>{html.escape(detail)}</p>"
        f"{hint}<p><a href='{html.escape(home, quote=True)}'>Drawbridge home</a></p>"
    )
    return page_response(f"Drawbridge: {status} {html.escape(phrase)}", body, status, headers)


def prefers_html(accept: str | None) -> bool:
    """Whether the type a client ranks first is HTML, as a browser's navigation does.

    Only types named outright count: `*/*` (curl, requests, conda) is not a preference, and
    pip and uv name the PEP 691 JSON type first. Equal qualities go to the first named.
    """
    if not accept:
        return False
    best_quality, best = 0.0, ""
    for item in accept.split(","):
        media, _, parameters = item.partition(";")
        media = media.strip().lower()
        if not media or "*" in media:
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > best_quality:
            best_quality, best = quality, media
    return best in ("text/html", "application/xhtml+xml")
