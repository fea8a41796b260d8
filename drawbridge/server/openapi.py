"""The OpenAPI document without HEAD operations: HEAD is implied by GET, and FastAPI gives a
route answering both one operation ID twice (a warning per route, and a document that code
generators reject)."""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi


def without_head(document: dict[str, Any]) -> dict[str, Any]:
    """`document` with every HEAD operation left out, and each remaining operation's ID
    ending in its own method (FastAPI names a GET-and-HEAD route's ID after whichever
    method its set yields first)."""
    for item in document.get("paths", {}).values():
        item.pop("head", None)
        for method, operation in item.items():
            operation_id = operation.get("operationId", "")
            if operation_id.endswith("_head"):
                operation["operationId"] = operation_id.removesuffix("_head") + f"_{method}"
    return document


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (behind /openapi.json, /docs, /redoc) build the document once,
    without HEAD operations."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            with warnings.catch_warnings():  # the HEAD twins' IDs, left out just below
                warnings.filterwarnings("ignore", "Duplicate Operation ID", UserWarning)
                document = get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                    tags=app.openapi_tags,
                    servers=app.servers,
                )
            app.openapi_schema = without_head(document)
        return app.openapi_schema

    # FastAPI's documented way to replace the document (its docs assign app.openapi); mypy
    # refuses any assignment to a method
    app.openapi = openapi  # type: ignore[method-assign]
