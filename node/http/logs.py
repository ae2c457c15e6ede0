"""What the node's HTTP layer writes to its logs: never a client's address, never a client's raw bytes.

The node promises not to log IPs (DESIGN.md §1). aiohttp's own logs would break that promise: its access
log format may name the address, and its error log writes ``Error handling request from <ip>`` with a
traceback whose message quotes the bytes the client sent (a request line over 8190 bytes, say). So:

- ``AccessLog`` writes the method, the route's pattern (not the path asked for), the status, the size and
  the time — nothing the client chose beyond the method;
- ``PROTOCOL_LOG`` is the logger aiohttp's connection handler writes to; its filter turns a malformed
  request (the client's fault, not the node's) into one line naming the kind of error, and strips the
  address from every other message. A real bug in a handler keeps its traceback.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})


class AccessLog(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "-"
        try:  # a request refused before routing (a malformed one) has no route, and says so by asserting
            resource = request.match_info.route.resource if isinstance(request, web.Request) else None
        except AssertionError:
            resource = None
        if resource is not None:
            route = resource.canonical
        method = request.method if request.method in METHODS else "-"
        self.logger.info("%s %s %s %s %.3f", method, route, response.status, response.body_length, time)


class _Scrub(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            record.msg, record.args = "refused a malformed request: %s (%s)", (type(exc).__name__, exc.code)
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        elif isinstance(record.msg, str) and record.msg.startswith("Error handling request"):
            record.msg, record.args = "error handling a request", ()
        return True


PROTOCOL_LOG = logging.getLogger("shora.http.protocol")
PROTOCOL_LOG.addFilter(_Scrub())
ACCESS_LOG = logging.getLogger("shora.http.access")
