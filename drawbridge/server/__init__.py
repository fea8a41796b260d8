"""HTTP only: the FastAPI app, its routes, authentication and the plain-ASGI fast path."""
