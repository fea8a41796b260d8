"""`/ui/held`: the files policy held back, with why, for maintainers to decide on
(`drawbridge held accept N --comment WHY` publishes one; the page only shows)."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from drawbridge.channel.held import HeldFiles
from drawbridge.server.context import context
from drawbridge.server.pages import UI_TAG, page_response

router = APIRouter()


@router.get(
    "/ui/held",
    response_class=HTMLResponse,
    summary="Files policy held back, for maintainers to decide",
    tags=[UI_TAG],
)
def held_page(request: Request) -> HTMLResponse:
    ctx = context(request)
    rows = HeldFiles(ctx.home.root, ctx.database).all()
    shown = "".join(
        f"<tr><td>{row.id}</td><td>{html.escape(row.channel)}</td>"
        f"<td><code>{html.escape(row.filename)}</code></td>"
        f"<td>{html.escape(row.project)} {html.escape(row.version)}</td>"
        f"<td>{'<br>'.join(html.escape(reason) for reason in row.reasons)}</td>"
        f"<td>{html.escape(row.source)}</td><td class='{html.escape(row.state)}'>"
        f"{html.escape(row.state)}{' by ' + html.escape(row.decided_by) if row.decided_by else ''}"
        f"</td><td>{html.escape(row.comment)}</td></tr>"
        for row in reversed(rows)
    )
    waiting = sum(1 for row in rows if row.state == "held")
    body = (
        f"<h1>Held files</h1><p>{waiting} waiting. Publish one with <code>drawbridge held "
        "accept N --comment WHY</code> (audited), or refuse it with <code>drawbridge held "
        "reject N --comment WHY</code>.</p><table><tr><th>#</th><th>channel</th><th>file</th>"
        "<th>release</th><th>why it was held</th><th>from</th><th>state</th><th>comment</th>"
        f"</tr>{shown}</table>"
    )
    return page_response("Drawbridge: held files", body)
