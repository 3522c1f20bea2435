"""The small HTTP side of the WebSocket port: viewer page, /metrics, /status, /healthz.

``/healthz`` answers 200 ``ok`` while every stream delivers and 503 naming
the streams that are down (a source retrying after a failure).
``/metrics`` and ``/status`` need the token when one is configured.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from importlib import resources
from typing import Any

from websockets.datastructures import Headers
from websockets.http11 import Response


def response(status: HTTPStatus, body: bytes, content_type: str = "text/plain") -> Response:
    headers = Headers(
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
            ("Connection", "close"),
        ]
    )
    return Response(status.value, status.phrase, headers, body)


def viewer_page() -> bytes:
    return resources.files("xrbridge.bridge").joinpath("static/index.html").read_bytes()


class HttpRoutes:
    """GET routes of one hub; ``authed``: the request carried the right token (or none is needed)."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self._page = viewer_page()

    def get(self, path: str, authed: bool) -> Response:
        m = self.hub.metrics
        if path in ("/", "/index.html"):
            return response(HTTPStatus.OK, self._page, "text/html; charset=utf-8")
        if path == "/healthz":
            down = sorted(k for k, ok in self.hub.health().items() if not ok)
            if down:
                return response(
                    HTTPStatus.SERVICE_UNAVAILABLE, f"down: {', '.join(down)}\n".encode()
                )
            return response(HTTPStatus.OK, b"ok\n")
        if path in ("/metrics", "/status"):
            if not authed:
                m.error("unauthenticated")
                return response(HTTPStatus.UNAUTHORIZED, b"bearer token required\n")
            if path == "/metrics":
                return response(HTTPStatus.OK, m.render().encode(), "text/plain; version=0.0.4")
            return response(
                HTTPStatus.OK, json.dumps(self.hub.status()).encode(), "application/json"
            )
        return response(HTTPStatus.NOT_FOUND, b"not found\n")
