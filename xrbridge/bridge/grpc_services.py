"""The gRPC services, translated to the session's rules (:mod:`xrbridge.bridge.session`).

``Push`` skips and counts a frame it cannot take (trailing metadata
``xrbridge-errors``, ``xrbridge-last-error``); an unknown or non-push stream
ends the call. A failing ``SelectModel`` names the model, never a path.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import grpc

from xrbridge.bridge import protocol as P
from xrbridge.bridge.hub import Hub, Subscriber
from xrbridge.bridge.ingest import ingest_push, proto_pixels
from xrbridge.bridge.registry import ModelRegistry
from xrbridge.bridge.session import GRPC_CODES, ControlSession, resolve_model, resolve_stream
from xrbridge.bridge.settings import Settings
from xrbridge.core.types import SCHEMA_VERSION
from xrbridge.wire.alert import alert_from_dict, alert_to_proto
from xrbridge.wire.codec import overlay_to_proto
from xrbridge.wire.gen import control_pb2, frame_pb2, services_pb2_grpc


async def abort(hub: Hub, ctx: grpc.aio.ServicerContext, exc: P.ProtocolError) -> None:
    hub.metrics.error(exc.code, str(exc))
    await ctx.abort(grpc.StatusCode[GRPC_CODES.get(exc.code, "INTERNAL")], str(exc))


class _AlertSubscriber(Subscriber):
    """Takes only the drift alerts (overlays never wake the Alerts call)."""

    def wants(self, msg: Any) -> bool:
        return msg.kind == "alert" and super().wants(msg)


class Services(
    services_pb2_grpc.FrameIngestServicer,
    services_pb2_grpc.SubscribeServicer,
    services_pb2_grpc.ControlServicer,
):
    def __init__(self, hub: Hub, registry: ModelRegistry, settings: Settings) -> None:
        self.hub, self.registry, self.settings = hub, registry, settings
        self.session = ControlSession(
            hub, token="", server="grpc", heartbeat_s=0, limits=settings.limits(), now=0
        )

    async def Push(
        self, request_iterator: AsyncIterator[frame_pb2.Frame], ctx: grpc.aio.ServicerContext
    ) -> Any:
        hub, m = self.hub, self.hub.metrics
        received, errors, last_error, sid = 0, 0, "", ""
        async for msg in request_iterator:
            t_arr, sid = time.perf_counter(), msg.stream_id
            try:
                push = self.session.push_action(msg.stream_id, msg.seq, msg.t_capture, b"")
                pixels = await proto_pixels(msg, self.settings.max_image_pixels)
                await ingest_push(
                    hub,
                    push,
                    max_pixels=self.settings.max_image_pixels,
                    t_arrival=t_arr,
                    pixels=pixels,
                )
                received += 1
            except P.ProtocolError as exc:
                if exc.code in ("unknown_stream", "not_push_stream"):
                    await abort(hub, ctx, exc)
                m.error(exc.code, str(exc))
                errors, last_error = errors + 1, str(exc)[:200]
        if errors:
            ctx.set_trailing_metadata(
                (
                    ("xrbridge-errors", str(errors)),
                    ("xrbridge-last-error", last_error.encode("ascii", "replace").decode()),
                )
            )
        st = hub.streams[sid].stats if sid in hub.streams else None
        return frame_pb2.IngestSummary(
            stream_id=sid,
            frames_received=received,
            frames_processed=st.inferred if st else 0,
            frames_dropped=st.dropped if st else 0,
            last_seq=st.last_seq if st else -1,
        )

    async def Overlays(self, request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        hub = self.hub
        try:
            sid = resolve_stream(hub, request.stream_id)
        except P.ProtocolError as exc:
            await abort(hub, ctx, exc)
        sub = Subscriber("grpc", {sid}, max_keys=self.settings.queue_keys)
        hub.subscribe(sub)
        try:
            while (msg := await sub.queue.get()) is not None:
                if getattr(msg, "overlay", None) is None:
                    continue
                try:
                    data = msg.encoded("proto", lambda p: overlay_to_proto(p.overlay))
                except Exception:  # one unencodable overlay must not end the subscription
                    hub.metrics.error("encode")
                    continue
                yield data
                lag = hub.streams[sid].stats.last_seq - msg.overlay.seq
                e2e = time.perf_counter() - msg.t_arrival
                hub.metrics.record_sent("grpc", e2e, msg.t_wait, msg.t_pipeline, msg.t_model, lag)
        finally:
            hub.unsubscribe(sub)

    async def Alerts(self, request: Any, ctx: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        """Drift alerts (``robot_alert`` payloads) of one stream, or of all for an empty id."""
        hub = self.hub
        streams = None
        if request.stream_id:
            try:
                streams = {resolve_stream(hub, request.stream_id)}
            except P.ProtocolError as exc:
                await abort(hub, ctx, exc)
        sub = _AlertSubscriber(
            "grpc", streams, max_keys=self.settings.queue_keys + len(hub.streams)
        )
        hub.subscribe(sub)
        try:
            while (msg := await sub.queue.get()) is not None:
                if msg.payload is None:
                    continue
                try:
                    yield msg.encoded("proto", lambda p: alert_to_proto(alert_from_dict(p.payload)))
                except Exception:  # one unencodable alert must not end the subscription
                    hub.metrics.error("encode")
        finally:
            hub.unsubscribe(sub)

    async def ListModels(self, request: Any, ctx: grpc.aio.ServicerContext) -> Any:
        first = next(iter(self.hub.streams.values()), None)
        return control_pb2.ListModelsResponse(
            models=[control_pb2.ModelInfo(**i) for i in self.registry.infos()],
            active=first.model if first else "",
        )

    async def SelectModel(self, request: Any, ctx: grpc.aio.ServicerContext) -> Any:
        try:
            sid = resolve_stream(self.hub, request.stream_id)
            name = resolve_model(self.hub, request.name)
            try:
                await self.hub.select_model(sid, name)
            except Exception as exc:  # the reply names the model, never a server path
                raise P.ProtocolError(
                    "model_failed", f"model {name!r} could not be loaded ({type(exc).__name__})"
                ) from exc
        except P.ProtocolError as exc:
            self.hub.metrics.error(exc.code, str(exc))
            active = getattr(self.hub.streams.get(request.stream_id), "model", "")
            return control_pb2.SelectModelResponse(ok=False, active=active, message=str(exc))
        return control_pb2.SelectModelResponse(ok=True, active=name, message="")

    async def GetStatus(self, request: Any, ctx: grpc.aio.ServicerContext) -> Any:
        try:
            s = self.hub.streams[resolve_stream(self.hub, request.stream_id)]
        except P.ProtocolError as exc:
            await abort(self.hub, ctx, exc)
        st, (p50, p99) = s.stats, s.latency_percentiles()
        return control_pb2.Status(
            schema_version=SCHEMA_VERSION,
            stream_id=s.id,
            model=s.model,
            state={"starting": "idle", "ended": "idle"}.get(s.state, s.state),
            frames_received=st.frames_in,
            frames_processed=st.inferred,
            frames_dropped=st.dropped,
            last_seq=st.last_seq,
            latency_ms_p50=p50,
            latency_ms_p99=p99,
            message=st.last_error,
            t=time.time(),
        )
