"""Why an operator command has no route here: it belongs to the other kind of node, or to none.

A council serves the council's commands (``routes.admin``, ``routes.assemblies``, ``routes.motions``), a
federation body its own (``routes.fedbody``); ``shora`` pointed at the wrong folder would otherwise read
``Not Found`` or ``Method Not Allowed``.
"""

from __future__ import annotations

import re

from aiohttp import web

from node.http.wire import ApiError

_FOR = {"council": "a council", "federation": "a federation"}


def _patterns(table: web.RouteTableDef) -> list[tuple[str, re.Pattern[str]]]:
    return [
        (route.method, re.compile(re.sub(r"\{[^}]+\}", "[^/]+", route.path)))
        for route in table
        if isinstance(route, web.RouteDef)
    ]


def _kind_of(method: str, path: str) -> str | None:
    """The kind of node that serves ``method path``, if any does."""
    from node.http.routes import admin, assemblies, fedbody, motions  # the route tables of each kind

    council = (admin.routes, assemblies.routes, motions.routes)
    for kind, tables in (("council", council), ("federation", (fedbody.routes,))):
        if any(m == method and p.fullmatch(path) for table in tables for m, p in _patterns(table)):
            return kind
    return None


def explain(request: web.Request, kind: str) -> ApiError:
    """The 404 for an operator path this node (of ``kind``) does not serve, saying which node would."""
    serves = _kind_of(request.method, request.path)
    if serves is not None and serves != kind:
        return ApiError(
            404,
            "wrong-kind-of-node",
            f"this is {_FOR[kind]} node; this command is for {_FOR[serves]} "
            "(point --dir at that node's folder)",
        )
    return ApiError(
        404, "no-such-command", f"this node has no operator command {request.method} {request.path}"
    )
