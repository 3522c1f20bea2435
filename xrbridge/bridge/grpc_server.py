"""The gRPC server (grpc.aio): FrameIngest, Subscribe, Control, health and reflection.

Services of ``protos/xrbridge/v1/services.proto``:

- ``FrameIngest.Push`` (client streaming Frame -> IngestSummary): frames of a
  ``push`` stream. A frame that cannot be decoded or has the wrong size is
  skipped and counted; the summary's trailing metadata ``xrbridge-errors``
  and ``xrbridge-last-error`` say how many and why. An unknown or non-push
  stream ends the call with NOT_FOUND / FAILED_PRECONDITION.
- ``Subscribe.Overlays`` (server streaming): overlays of one stream (empty id:
  the first stream), through the same newest-wins outbox as WebSocket clients.
- ``Control``: ListModels, SelectModel (by registry name), GetStatus.
- ``grpc.health.v1.Health`` and server reflection.

With a token configured every call must carry ``authorization: Bearer <token>``
metadata (health and reflection included), else UNAUTHENTICATED.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from xrbridge.bridge.hub import Hub, Subscriber
from xrbridge.bridge.registry import ModelRegistry
from xrbridge.bridge.settings import Settings
from xrbridge.bridge.sources import image_size
from xrbridge.core.types import SCHEMA_VERSION
from xrbridge.errors import ImageError, InputError, LimitError, UnknownNameError, WireError
from xrbridge.wire.codec import frame_from_proto, overlay_to_proto
from xrbridge.wire.gen import control_pb2, frame_pb2, services_pb2, services_pb2_grpc

SERVICE_NAMES = tuple(
    services_pb2.DESCRIPTOR.services_by_name[n].full_name for n in ("FrameIngest", "Subscribe", "Control")
)


class _AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, token: str, on_reject: Callable[[], None]) -> None:
        self._want = f"Bearer {token}".encode()
        self._on_reject = on_reject

        async def deny(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "bearer token required")

        self._deny_unary = grpc.unary_unary_rpc_method_handler(deny)
        self._deny_stream = grpc.stream_unary_rpc_method_handler(deny)

    async def intercept_service(
        self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        md = dict(details.invocation_metadata or ())
        got = md.get("authorization", "")
        got_b = got.encode() if isinstance(got, str) else bytes(got)
        if hmac.compare_digest(got_b, self._want):
            return await continuation(details)
        self._on_reject()
        handler = await continuation(details)
        if handler is not None and handler.request_streaming:
            return self._deny_stream
        return self._deny_unary


class _Ingest(services_pb2_grpc.FrameIngestServicer):
    def __init__(self, hub: Hub, settings: Settings) -> None:
        self.hub, self.settings = hub, settings

    async def Push(self, request_iterator: AsyncIterator[frame_pb2.Frame],
                   context: grpc.aio.ServicerContext) -> frame_pb2.IngestSummary:
        hub, m = self.hub, self.hub.metrics
        received = 0
        errors = 0
        last_error = ""
        sid = ""
        async for msg in request_iterator:
            t_arr = time.perf_counter()
            sid = msg.stream_id
            if sid not in hub.streams:
                m.errors.inc("unknown_stream")
                await context.abort(grpc.StatusCode.NOT_FOUND,
                                    f"unknown stream {sid!r}; valid: {sorted(hub.streams)}")
            if hub.streams[sid].source.kind != "push":
                m.errors.inc("not_push_stream")
                await context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                                    f"stream {sid!r} is not a push stream")
            try:
                w, h = msg.width, msg.height
                if msg.encoding != frame_pb2.IMAGE_ENCODING_RAW_BGR:
                    _, w, h = image_size(msg.data[:65536])  # the image's own header, not the message's
                if w * h > self.settings.max_image_pixels:
                    raise LimitError(f"frame {msg.seq}: {w}x{h} above {self.settings.max_image_pixels} pixels")
            except (LimitError, ImageError) as exc:
                m.errors.inc("too_large" if isinstance(exc, LimitError) else "bad_image")
                errors += 1
                last_error = str(exc)[:200]
                continue
            try:
                frame = await asyncio.to_thread(frame_from_proto, msg)
                m.stage.observe(time.perf_counter() - t_arr, "decode")
                await hub.push(sid, frame, t_arr)
                received += 1
            except (WireError, InputError) as exc:
                kind = "wrong_size" if "size" in str(exc) else "bad_image"
                m.errors.inc(kind)
                errors += 1
                last_error = str(exc)[:200]
        if errors:
            context.set_trailing_metadata((("xrbridge-errors", str(errors)),
                                           ("xrbridge-last-error", last_error.encode("ascii", "replace").decode())))
        st = hub.streams[sid].stats if sid in hub.streams else None
        return frame_pb2.IngestSummary(
            stream_id=sid, frames_received=received,
            frames_processed=st.inferred if st else 0, frames_dropped=st.dropped if st else 0,
            last_seq=st.last_seq if st else -1,
        )


class _Subscribe(services_pb2_grpc.SubscribeServicer):
    def __init__(self, hub: Hub, settings: Settings) -> None:
        self.hub, self.settings = hub, settings

    async def Overlays(self, request: control_pb2.SubscribeRequest,
                       context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        hub = self.hub
        sid = request.stream_id or next(iter(hub.streams), "")
        if sid not in hub.streams:
            hub.metrics.errors.inc("unknown_stream")
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"unknown stream {sid!r}; valid: {sorted(hub.streams)}")
        sub = Subscriber("grpc", {sid}, max_keys=self.settings.queue_keys)
        hub.subscribe(sub)
        try:
            while True:
                msg = await sub.queue.get()
                if msg is None:
                    return
                if not hasattr(msg, "overlay") or msg.overlay is None:
                    continue
                yield msg.encoded("proto", lambda p: overlay_to_proto(p.overlay))
                hub.metrics.record_sent("grpc", time.perf_counter() - msg.t_arrival, msg.t_wait,
                                        msg.t_pipeline, msg.t_model,
                                        hub.streams[sid].stats.last_seq - msg.overlay.seq)
        finally:
            hub.unsubscribe(sub)


class _Control(services_pb2_grpc.ControlServicer):
    def __init__(self, hub: Hub, registry: ModelRegistry) -> None:
        self.hub, self.registry = hub, registry

    async def ListModels(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        first = next(iter(self.hub.streams.values()), None)
        return control_pb2.ListModelsResponse(
            models=[control_pb2.ModelInfo(**info) for info in self.registry.infos()],
            active=first.model if first else "",
        )

    async def SelectModel(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        sid = request.stream_id or next(iter(self.hub.streams), "")
        try:
            await self.hub.select_model(sid, request.name)
        except UnknownNameError as exc:
            self.hub.metrics.errors.inc("unknown_model" if sid in self.hub.streams else "unknown_stream")
            active = self.hub.streams[sid].model if sid in self.hub.streams else ""
            return control_pb2.SelectModelResponse(ok=False, active=active, message=str(exc))
        return control_pb2.SelectModelResponse(ok=True, active=request.name, message="")

    async def GetStatus(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        sid = request.stream_id or next(iter(self.hub.streams), "")
        if sid not in self.hub.streams:
            self.hub.metrics.errors.inc("unknown_stream")
            await context.abort(grpc.StatusCode.NOT_FOUND,
                                f"unknown stream {sid!r}; valid: {sorted(self.hub.streams)}")
        s = self.hub.streams[sid]
        st = s.stats
        p50, p99 = s.latency_percentiles()
        state = {"starting": "idle", "running": "running", "ended": "idle"}.get(st.state, st.state)
        return control_pb2.Status(
            schema_version=SCHEMA_VERSION, stream_id=sid, state=state, model=s.model,
            frames_received=st.frames_in, frames_processed=st.inferred, frames_dropped=st.dropped,
            last_seq=st.last_seq, latency_ms_p50=p50, latency_ms_p99=p99, message=st.last_error,
            t=time.time(),
        )


class GrpcServer:
    """The aio server around one hub."""

    def __init__(self, hub: Hub, registry: ModelRegistry, settings: Settings,
                 credentials: grpc.ServerCredentials | None = None) -> None:
        self.hub, self.registry, self.settings = hub, registry, settings
        self.credentials = credentials
        self.server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self) -> int:
        s = self.settings
        interceptors = []
        if s.token:
            interceptors.append(_AuthInterceptor(s.token, lambda: self.hub.metrics.errors.inc("unauthenticated")))
        limit = s.max_message_bytes
        server = grpc.aio.server(interceptors=interceptors, options=[
            ("grpc.max_receive_message_length", limit),
            ("grpc.max_send_message_length", limit),
            ("grpc.so_reuseport", 0),
        ])
        services_pb2_grpc.add_FrameIngestServicer_to_server(_Ingest(self.hub, s), server)
        services_pb2_grpc.add_SubscribeServicer_to_server(_Subscribe(self.hub, s), server)
        services_pb2_grpc.add_ControlServicer_to_server(_Control(self.hub, self.registry), server)
        hs = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(hs, server)
        names = (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME)
        reflection.enable_server_reflection(names, server)
        addr = f"{s.host}:{s.grpc_port}"
        if self.credentials is not None:
            self.port = server.add_secure_port(addr, self.credentials)
        else:
            self.port = server.add_insecure_port(addr)
        await server.start()
        for n in ("", *SERVICE_NAMES):
            r = hs.set(n, health_pb2.HealthCheckResponse.SERVING)
            if asyncio.iscoroutine(r):
                await r
        self.server = server
        self._health = hs
        return self.port

    async def stop(self, grace: float = 1.0) -> None:
        if self.server is not None:
            await self.server.stop(grace)
