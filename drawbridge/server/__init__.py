"""The application: FastAPI app, routes, authentication and the `drawbridge` command."""
