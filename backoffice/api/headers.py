"""Security headers on every answer of the app: what the browser may load and run, no
framing, no type sniffing, no caching of anything but the static files, HSTS over https."""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Scripts, styles, fonts and data only from this site; the pages and /docs carry no inline
# script or style. Swagger UI draws its icons from data: URIs.
DIRECTIVES = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(**changes: str) -> str:
    """The default policy with some directives replaced or added (``style_src="..."`` for
    style-src), for a route that needs a little more and sets the header itself."""
    directives = DIRECTIVES | {name.replace("_", "-"): value for name, value in changes.items()}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


CONTENT_SECURITY_POLICY = content_security_policy()
HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
# Figures, personal data and tokens must not stay in a browser's or a proxy's cache; only the
# static files (style sheets, scripts, Swagger UI) may.
NO_STORE = "no-store"
STATIC_PREFIX = "/static/"
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """Pure ASGI (no buffering of the body), so the terminals' sync pushes pay next to
    nothing for it. A header the route set itself is left as it is."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(HEADERS)
        if not scope["path"].startswith(STATIC_PREFIX):
            extra.append(("Cache-Control", NO_STORE))
        # The scheme is https behind a trusted proxy too (uvicorn reads X-Forwarded-Proto).
        if scope.get("scheme") == "https":
            extra.append(("Strict-Transport-Security", HSTS))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra:
                    if name not in headers:
                        headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
