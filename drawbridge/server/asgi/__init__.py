"""The plain-ASGI layers around the FastAPI application, each one concern, outermost first:
admission (how many requests are worked on at once), the `/t/<token>/` prefix, the fast
path (anonymous reads answered before routing), the access log, what a proxy cache may
keep, `public_url`, the cross-origin guard, a replica's refusal of changes, the read gate
and the miss counter.
They import the server's shared modules, never a route or a page.
"""

from drawbridge.server.asgi.access_log import AccessLog
from drawbridge.server.asgi.admission import Admission, AdmissionLimits
from drawbridge.server.asgi.csrf import CrossOriginGuard
from drawbridge.server.asgi.fast_path import IndexFastPath
from drawbridge.server.asgi.gate import Gate
from drawbridge.server.asgi.misses import MissCounter, MissCounting
from drawbridge.server.asgi.proxy_cache import NotForProxyCache
from drawbridge.server.asgi.public_url import PublicUrl, public_origin
from drawbridge.server.asgi.read_only import ReadOnlyReplica
from drawbridge.server.asgi.token_prefix import TokenPrefixMiddleware

__all__ = [
    "AccessLog",
    "Admission",
    "AdmissionLimits",
    "CrossOriginGuard",
    "Gate",
    "IndexFastPath",
    "MissCounter",
    "MissCounting",
    "NotForProxyCache",
    "PublicUrl",
    "ReadOnlyReplica",
    "TokenPrefixMiddleware",
    "public_origin",
]
