"""Serving the web interface: the pages under ``html/`` and the files under ``static/``, with strict headers.

The pages are static HTML and classic scripts (a page saved to disk runs from ``file://``, where Chromium
refuses module scripts); everything they show comes from the public JSON routes and is inserted as text.
A file is served only if it is one of the package's own, read once at start, so no path can leave the
directories. A room of its own below ``node/http`` (which mounts it): it imports no other room of node/.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).resolve().parent
HTML = HERE / "html"
STATIC = HERE / "static"

# default-src 'self' and nothing inline, no frames, no forms posting elsewhere, no <base> rewriting links
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}
TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
# the page at each path: the council's public page, the decision page (the decision in ?id=), the member's
# page (redeem an invitation, check in, vote, check the vote was counted) and the assembly console of the
# board (issue 15; its data come from the member-signed /v1/member/board/ routes); on a federation body's
# node, `/` is the federation's page
PAGES = {
    "/": "council.html",
    "/decision": "decision.html",
    "/member": "member.html",
    "/console": "console.html",
}
HOME = {"council": "council.html", "federation": "federation.html"}


@dataclass(frozen=True, slots=True)
class File:
    """One file as served: read once, when the application is made (they are a few kilobytes each)."""

    body: bytes
    content_type: str

    def response(self) -> web.Response:
        return web.Response(body=self.body, content_type=self.content_type, charset="utf-8", headers=HEADERS)


def _files(folder: Path) -> dict[str, File]:
    return {
        p.name: File(p.read_bytes(), TYPES[p.suffix])
        for p in sorted(folder.iterdir())
        if p.is_file() and p.suffix in TYPES
    }


def setup(app: web.Application, kind: str = "council") -> None:
    """Mount the pages; ``kind`` (the node's: council or federation) chooses the page served at ``/``."""
    pages = _files(HTML)
    static = _files(STATIC)

    def page(path: str, name: str) -> web.RouteDef:
        async def handler(request: web.Request) -> web.Response:
            return pages[name].response()

        return web.get(path, handler)

    async def static_file(request: web.Request) -> web.Response:
        found = static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()  # answered as {"error": "not-found"} by node/http's middleware
        return found.response()

    app.add_routes(
        [
            *(page(path, name) for path, name in (PAGES | {"/": HOME[kind]}).items()),
            web.get("/static/{name}", static_file),
        ]
    )
