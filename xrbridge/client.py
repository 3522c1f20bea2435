"""Subscribe to a running bridge from Python: :class:`BridgeClient`.

The same client serves ``xrbridge client URL`` (``xrbridge/commands/client.py``).
Overlays come as plain dicts with the fields of the protocol's ``overlay_frame``
(``stream_id``, ``seq``, ``t_capture``, ``view``, ``track``, ``image_score``,
``defects`` ...), whichever transport carried them; the field-by-field schema is
``unity_client_stub/PROTOCOL.md`` (the Protocol page of the documentation).

Example (``bridge_url`` is the address a bridge prints, e.g. ``ws://192.168.0.10:8765/ws``;
CI runs this against a real bridge replaying the demo video):
    >>> from xrbridge import BridgeClient
    >>> client = BridgeClient(bridge_url)
    >>> overlays = client.collect(count=3)
    >>> [o["type"] for o in overlays]
    ['overlay_frame', 'overlay_frame', 'overlay_frame']
    >>> overlays[0]["stream_id"]
    'line'
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from pathlib import Path
from typing import Any

from xrbridge.errors import AuthError, UsageError, WireError

__all__ = ["BridgeClient"]

SCHEMES = ("ws", "wss", "grpc")


class BridgeClient:
    """A subscriber of one bridge, over WebSocket (``ws://``, ``wss://``) or gRPC (``grpc://``).

    Args:
        url: ``ws://HOST:PORT/ws``, ``wss://HOST:PORT/ws`` or ``grpc://HOST:PORT``.
        token: the bridge's bearer token, if it runs with one.
        streams: stream ids to receive (empty: every stream; gRPC takes the first only).
        model: select this model on the streams before receiving.
        cafile: CA certificate (PEM) to trust for ``wss://`` or TLS gRPC, e.g. the
            bridge's self-signed certificate.
        open_timeout: seconds to wait for the connection.
        on_error: called with (code, message) for each ``error`` message the bridge sends
            that does not end the subscription (e.g. a pushed frame it refused).

    Raises:
        UsageError: the URL has another scheme.

    Example:
        >>> BridgeClient("http://127.0.0.1:8765/")
        Traceback (most recent call last):
        ...
        xrbridge.errors.UsageError: URL must start with ws://, wss:// or grpc://, got 'http://127.0.0.1:8765/'
        >>> BridgeClient("ws://127.0.0.1:9/ws", open_timeout=2).collect(count=1)
        Traceback (most recent call last):
        ...
        xrbridge.errors.WireError: cannot connect to ws://127.0.0.1:9/ws: ...
    """

    def __init__(
        self,
        url: str,
        *,
        token: str = "",
        streams: Sequence[str] = (),
        model: str | None = None,
        cafile: str | Path | None = None,
        open_timeout: float = 10.0,
        on_error: Callable[[str, str], None] | None = None,
    ) -> None:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme not in SCHEMES:
            raise UsageError(f"URL must start with ws://, wss:// or grpc://, got {url!r}")
        self.url = url
        self.scheme = scheme
        self.token = token
        self.streams = tuple(streams)
        self.model = model
        self.cafile = Path(cafile) if cafile else None
        self.open_timeout = open_timeout
        self.on_error = on_error

    def __repr__(self) -> str:
        return f"BridgeClient({self.url!r}, streams={list(self.streams)!r})"

    async def overlays(self) -> AsyncGenerator[dict[str, Any], None]:
        """Every overlay the bridge sends, as a dict, until the caller stops iterating.

        Close it when you stop early (``async with contextlib.aclosing(client.overlays())``),
        so the connection closes at once.

        Raises:
            AuthError: the bridge refused the token (or needs one).
            WireError: the connection failed or the bridge closed it.
        """
        gen = self._grpc() if self.scheme == "grpc" else self._ws()
        async with contextlib.aclosing(gen):
            async for overlay in gen:
                yield overlay

    def collect(self, count: int = 0, seconds: float = 0.0) -> list[dict[str, Any]]:
        """Receive overlays until ``count`` came or ``seconds`` passed (blocking).

        At least one of the two limits must be set. Raises as :meth:`overlays`.
        """
        if count <= 0 and seconds <= 0:
            raise UsageError("collect needs count > 0 or seconds > 0")
        return asyncio.run(self._collect(count, seconds))

    async def _collect(self, count: int, seconds: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + seconds if seconds > 0 else None

        async def take() -> None:
            async with contextlib.aclosing(self.overlays()) as overlays:
                async for overlay in overlays:
                    out.append(overlay)
                    if count and len(out) >= count:
                        return

        if deadline is None:
            await take()
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(take(), max(0.0, deadline - time.monotonic()))
        return out

    # ------------------------------------------------------------------ WebSocket

    def _ssl(self) -> ssl.SSLContext | None:
        if self.scheme != "wss":
            return None
        return ssl.create_default_context(cafile=str(self.cafile) if self.cafile else None)

    async def _ws(self) -> AsyncGenerator[dict[str, Any], None]:
        import msgpack
        from websockets.asyncio.client import connect
        from websockets.exceptions import (
            ConnectionClosed,
            InvalidHandshake,
            InvalidStatus,
            InvalidURI,
        )

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            ws = await connect(
                self.url,
                additional_headers=headers,
                ssl=self._ssl(),
                proxy=None,
                open_timeout=self.open_timeout,
                max_size=64 * 1024 * 1024,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace").strip() if exc.response.body else ""
            if status in (401, 403):
                raise AuthError(
                    f"{self.url} refused the token: HTTP {status} {body}".rstrip()
                ) from exc
            raise WireError(
                f"{self.url} refused the connection: HTTP {status} {body}".rstrip()
            ) from exc
        except InvalidURI as exc:
            raise UsageError(f"not a WebSocket URL: {self.url!r} ({exc})") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise WireError(f"cannot connect to {self.url}: {exc}") from exc
        try:
            async with ws:
                hello = {"type": "hello", "schema_version": 1, "client": "xrbridge-python"}
                await ws.send(msgpack.packb(hello))
                await ws.send(msgpack.packb({"type": "subscribe", "streams": list(self.streams)}))
                if self.model:
                    for s in self.streams or (None,):
                        msg = {"type": "select_model", "name": self.model}
                        if s:
                            msg["stream_id"] = s
                        await ws.send(msgpack.packb(msg))
                while True:
                    m = msgpack.unpackb(await ws.recv(), raw=False)
                    kind = m.get("type") if isinstance(m, dict) else None
                    if kind == "overlay_frame":
                        yield m
                    elif kind == "error":
                        code, text = m.get("code"), m.get("message")
                        if code == "unauthenticated":
                            raise AuthError(f"{self.url} needs a token: {text}")
                        if code in ("unknown_model", "unknown_stream", "schema_version"):
                            raise WireError(f"{self.url}: {code}: {text}")
                        if self.on_error is not None:
                            self.on_error(str(code), str(text))
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            if rcvd is not None and rcvd.code == 1008:
                raise AuthError(
                    f"{self.url} closed the connection: {rcvd.reason or 'policy'}"
                ) from exc
            raise WireError(f"{self.url} closed the connection: {exc}") from exc
        except OSError as exc:
            raise WireError(f"connection to {self.url} failed: {exc}") from exc

    # ----------------------------------------------------------------------- gRPC

    async def _grpc(self) -> AsyncGenerator[dict[str, Any], None]:
        import grpc

        from xrbridge.wire.codec import overlay_from_proto, overlay_to_dict
        from xrbridge.wire.gen import control_pb2, services_pb2_grpc

        target = self.url.split("://", 1)[1].rstrip("/")
        md = (("authorization", f"Bearer {self.token}"),) if self.token else None
        if self.cafile:
            creds = grpc.ssl_channel_credentials(self.cafile.read_bytes())
            channel = grpc.aio.secure_channel(target, creds)
        else:
            channel = grpc.aio.insecure_channel(target)
        stream = self.streams[0] if self.streams else ""
        try:
            async with channel:
                try:
                    await asyncio.wait_for(channel.channel_ready(), self.open_timeout)
                except TimeoutError as exc:
                    raise WireError(
                        f"cannot connect to {self.url}: no answer in {self.open_timeout} s"
                    ) from exc
                if self.model:
                    ctl = services_pb2_grpc.ControlStub(channel)
                    req = control_pb2.SelectModelRequest(stream_id=stream, name=self.model)
                    r = await ctl.SelectModel(req, metadata=md)
                    if not r.ok:
                        raise WireError(f"{self.url}: select model {self.model!r}: {r.message}")
                sub = services_pb2_grpc.SubscribeStub(channel)
                call = sub.Overlays(control_pb2.SubscribeRequest(stream_id=stream), metadata=md)
                try:
                    async for msg in call:
                        d = overlay_to_dict(overlay_from_proto(msg))
                        d.setdefault("type", "overlay_frame")
                        yield d
                finally:
                    call.cancel()
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise AuthError(f"{self.url} refused the token: {exc.details()}") from exc
            raise WireError(f"{self.url}: gRPC {exc.code().name}: {exc.details()}") from exc
