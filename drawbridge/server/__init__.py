"""HTTP only: the FastAPI app, its routes and pages, and the plain-ASGI layers around it.

- `app`: `create_app(home)`, assembled from the parts below; the router order.
- `asgi/`: the plain-ASGI layers in front of FastAPI, outermost first: admission, the
  `/t/<token>/` prefix, the fast path, the access log, `public_url`, the cross-origin
  guard and the read gate.
- `routes/`: the package routes (pip, conda, upload, upstream mirrors) and the JSON APIs
  (admin, bases, promotion, requests, locks).
- `ui/`: the web UI's pages (the catalogue, review, /docs) and their static files.
- what several of them share, here: `context`, `errors`, `auth`, `administering`,
  `channel_paths`, `negotiation`, `responses`, `index_files`, `inherited`,
  `upstream_relay`, `openapi`, `pages`, `webhooks` (deliveries) and `replication` (a
  replica keeping up with its primary), both run by `drawbridge serve`'s main process.

A route module imports no other route module, and no page; a page no route module; an
ASGI layer neither; the shared modules none of the three folders; only `app` imports
them all (`tests/unit/test_layering.py`). Imports `drawbridge.bridge` and `drawbridge.channel`,
never `drawbridge.environments`.
"""

__all__ = [
    "administering",
    "app",
    "asgi",
    "auth",
    "channel_paths",
    "context",
    "errors",
    "index_files",
    "inherited",
    "negotiation",
    "openapi",
    "pages",
    "replication",
    "responses",
    "routes",
    "ui",
    "upstream_relay",
    "webhooks",
]
