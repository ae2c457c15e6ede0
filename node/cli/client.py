"""The operator's side of the HTTP API: signed requests from the CLI to the running node."""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from node.config import NodeConfig
from node.errors import ApiRefusal, TransportError
from protocol.httpsig import encode_nonce, sign_request
from protocol.keys import SigningKey


class SignedHttp:
    """Requests to the node at ``base`` signed by ``key`` for the node ``recipient`` (its id); ``hint`` is
    what to tell a person when the node cannot be reached."""

    def __init__(self, base: str, key: SigningKey, recipient: bytes, timeout: float, hint: str) -> None:
        self.base, self.key, self.recipient, self.timeout, self.hint = (
            base.rstrip("/"),
            key,
            recipient,
            timeout,
            hint,
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, *, raw: bool = False) -> Any:
        with self._open(method, path, body) as response:
            payload = response.read()
        return payload if raw else json.loads(payload)

    def stream(self, method: str, path: str) -> Iterator[dict[str, Any]]:
        """The JSON lines of a streamed answer (``sync``'s progress), as they arrive."""
        with self._open(method, path, None, timeout=None) as response:
            for line in response:
                if line.strip():
                    yield json.loads(line)

    @contextlib.contextmanager
    def _open(
        self, method: str, path: str, body: dict[str, Any] | None, timeout: float | None = -1.0
    ) -> Iterator[Any]:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        url = self.base + path
        parts = urlsplit(url)
        headers = sign_request(
            self.key,
            method=method,
            authority=parts.netloc,
            path=parts.path,
            query=parts.query,
            body=data,
            recipient=self.recipient,
            created=int(time.time()),
            nonce=encode_nonce(secrets.token_bytes(16)),
        )
        headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            url, data=data if method != "GET" else None, headers=headers, method=method
        )
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout if timeout == -1.0 else timeout)
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                err = json.loads(text)
                raise ApiRefusal(err["error"], err["message"], exc.code) from None
            except (ValueError, KeyError, TypeError):
                raise ApiRefusal(
                    "http", f"the node at {self.base} answered {exc.code} {exc.reason}", exc.code
                ) from None
        except (urllib.error.URLError, OSError) as exc:
            raise TransportError(f"cannot reach the node at {self.base} — {self.hint}") from exc
        with response:
            yield response


class NodeClient(SignedHttp):
    """The operator's client: the node of a data folder, signing with its operator key."""

    def __init__(self, config: NodeConfig, timeout: float | None = None) -> None:
        self.config = config
        addr = config.dir / "serve.addr"  # where `shora serve` really listens (see node.http.server)
        super().__init__(
            f"http://{addr.read_text().strip() if addr.exists() else config.listen}",
            config.operator_signing_key(),
            config.node_id,
            config.settings.request_timeout_s if timeout is None else timeout,
            f"is `shora serve {config.dir}` running?",
        )
