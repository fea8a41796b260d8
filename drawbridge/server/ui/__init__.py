"""The web UI, one module per family of pages, each with its `router`: the catalogue
(`browse`: the channel tree, a channel's projects, a project, a release; `static/ui.js`,
the icon, `/health`), rendered by `catalogue_pages`; the recipe review pages (`review`);
the webhooks and their deliveries, for admins (`hooks`); what policy held (`held`); the
build jobs (`jobs`); the API's documentation (`api_docs`, /docs). Their scripts and icon
are in `static/`, served by Drawbridge itself. A page imports the server's shared modules
(the page shell is `server.pages`) and other pages' helpers, never a route module.
"""

from drawbridge.server.ui import api_docs, browse, catalogue_pages, held, hooks, jobs, review

__all__ = ["api_docs", "browse", "catalogue_pages", "held", "hooks", "jobs", "review"]
