"""gRPC interceptors: the token check and malformed requests (counted, INVALID_ARGUMENT).

A request that is not the protobuf message its method expects used to end
as UNKNOWN from the library, uncounted. :class:`MalformedInterceptor` wraps
every method's deserializer: such a request becomes a clear INVALID_ARGUMENT
naming the method, counted as ``bad_message``.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from xrbridge.bridge.hub import Hub
from xrbridge.bridge.limits import AuthBackoff

_MALFORMED = object()


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Every call needs ``authorization: Bearer <token>``; else UNAUTHENTICATED after the backoff."""

    def __init__(self, token: str, hub: Hub, backoff: AuthBackoff) -> None:
        self._want = f"Bearer {token}".encode()

        async def deny(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
            hub.metrics.error("unauthenticated")
            await asyncio.sleep(backoff.failed(ctx.peer().rsplit(":", 1)[0], time.monotonic()))
            await ctx.abort(grpc.StatusCode.UNAUTHENTICATED, "bearer token required")

        self._deny = (
            grpc.unary_unary_rpc_method_handler(deny),
            grpc.stream_unary_rpc_method_handler(deny),
        )

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        got = dict(details.invocation_metadata or ()).get("authorization", "")
        if hmac.compare_digest(got.encode() if isinstance(got, str) else bytes(got), self._want):
            return await continuation(details)
        handler = await continuation(details)  # never called: only its shape is used
        return self._deny[1 if handler is not None and handler.request_streaming else 0]


class MalformedInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def _refuse(self, ctx: grpc.aio.ServicerContext, method: str) -> None:
        self.hub.metrics.error("bad_message", f"gRPC {method}: not the expected protobuf message")
        await ctx.abort(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{method}: request is not the expected protobuf message",
        )

    async def intercept_service(self, continuation: Any, details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method, parse, refuse = details.method, handler.request_deserializer, self._refuse

        def deserialize(data: bytes) -> Any:
            try:
                return parse(data)
            except Exception:  # protobuf's DecodeError and friends
                return _MALFORMED

        if handler.unary_unary is not None:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, ctx: grpc.aio.ServicerContext) -> Any:
                if request is _MALFORMED:
                    await refuse(ctx, method)
                return await inner_uu(request, ctx)

            return handler._replace(request_deserializer=deserialize, unary_unary=unary_unary)
        if handler.unary_stream is not None:
            inner_us = handler.unary_stream

            async def unary_stream(
                request: Any, ctx: grpc.aio.ServicerContext
            ) -> AsyncIterator[Any]:
                if request is _MALFORMED:
                    await refuse(ctx, method)
                async for item in inner_us(request, ctx):
                    yield item

            return handler._replace(request_deserializer=deserialize, unary_stream=unary_stream)
        if handler.stream_unary is not None:
            inner_su = handler.stream_unary

            async def stream_unary(
                requests: AsyncIterator[Any], ctx: grpc.aio.ServicerContext
            ) -> Any:
                async def checked() -> AsyncIterator[Any]:
                    async for r in requests:
                        if r is _MALFORMED:
                            await refuse(ctx, method)
                        yield r

                return await inner_su(checked(), ctx)

            return handler._replace(request_deserializer=deserialize, stream_unary=stream_unary)
        return handler
