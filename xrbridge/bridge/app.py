"""The composition root: settings -> registry, pipeline factory, sources, hub, servers.

:class:`Bridge` is what ``serve``, ``replay`` and ``demo`` run; tests start it
on 127.0.0.1 with port 0 and read the chosen ports from :attr:`Bridge.urls`.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from xrbridge.bridge.hub import Hub, ProcessorFactory
from xrbridge.bridge.metrics import BridgeMetrics
from xrbridge.bridge.registry import ModelRegistry
from xrbridge.bridge.settings import Settings
from xrbridge.bridge.sources import CameraSource, PushSource, VideoSource, parse_source_spec
from xrbridge.errors import UsageError


def pipeline_factory(
    settings: Settings,
    registry: ModelRegistry,
    on_records: Callable[[list[Any]], None] | None = None,
) -> ProcessorFactory:
    """Builds one StreamPipeline per (stream, model) from the templates and the registry.

    ``on_records`` receives the inspection records of the cars that left (in an
    inference thread).
    """
    from xrbridge.bridge.compose import build_pipeline

    templates = Path(settings.templates) if settings.templates else None

    def factory(stream_id: str, model: str) -> Any:
        return build_pipeline(
            templates,
            registry,
            model,
            stream_id=stream_id,
            threads=settings.threads,
            on_records=on_records,
            infer_every=settings.infer_every_for(stream_id),
        )

    return factory


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"cannot load TLS certificate {settings.tls_cert} / key {settings.tls_key}: {exc}"
        ) from exc
    return ctx


class Bridge:
    """Everything ``xrbridge serve`` runs, started and stopped as one."""

    def __init__(
        self, settings: Settings, *, factory: ProcessorFactory | None = None, lossless: bool = False
    ) -> None:
        self.settings = settings
        self.registry = ModelRegistry(Path(settings.models_dir))
        self.model = (
            self.registry.check(settings.model) if settings.model else self.registry.default()
        )
        self.metrics = BridgeMetrics()
        self.records: Any = None
        self.writer: Any = None
        if settings.records_db and factory is None:
            from xrbridge.errors import RecordError
            from xrbridge.io.record_writer import RecordWriter
            from xrbridge.io.records import SqliteRecordStore
            from xrbridge.io.records_pg import PgRecordStore, is_pg_url

            pg = is_pg_url(settings.records_db)
            try:
                self.records = (
                    PgRecordStore(settings.records_db, bridge=settings.bridge_name())
                    if pg
                    else SqliteRecordStore(settings.records_db, bridge=settings.bridge_name())
                )
            except RecordError as exc:
                raise UsageError(f"--records-db: {exc}") from exc
            # records leave the inference threads at once; a locked or full database never stalls them
            spill = settings.records_spill if pg else settings.records_db + ".spill"
            self.writer = RecordWriter(self.records, spill)
        self.executor = ThreadPoolExecutor(
            max_workers=settings.workers + 1, thread_name_prefix="xrbridge"
        )
        plant = bool(settings.mqtt_url) or hasattr(self.records, "add_alert")
        on_records = self.writer.submit_many if self.writer is not None else None
        if plant:
            on_records = self._on_records
        self.hub = Hub(
            factory or pipeline_factory(settings, self.registry, on_records),
            self.registry.names,
            self.executor,
            self.metrics,
            video_quality=settings.video_quality,
        )
        self.plant: Any = None
        if plant:  # MQTT events and drift alerts (docs/plant.md)
            from xrbridge.plant.hookup import PlantSinks

            self.plant = PlantSinks.from_settings(settings, self.hub, self.records)
            self.hub.add_sink(self.plant.on_published)
        for spec in settings.sources:
            try:
                sid, kind, target = parse_source_spec(spec)
            except ValueError as exc:
                raise UsageError(str(exc)) from exc
            src: Any
            if kind == "video":
                src = VideoSource(sid, Path(target), realtime=settings.realtime, loop=settings.loop)
            elif kind == "camera":
                src = CameraSource(sid, target)
            else:
                src = PushSource(sid)
            self.hub.add_stream(src, self.model, lossless=lossless and kind == "video")
        self.ws: Any = None
        self.grpc: Any = None

    async def start(self) -> None:
        from xrbridge.bridge.ws_server import WsServer

        ctx = _ssl_context(self.settings)
        if self.plant is not None:
            await self.plant.start()
        await self.hub.start()
        if self.settings.ws_port >= 0:
            self.ws = WsServer(self.hub, self.settings, ctx)
            await self.ws.start()
        if self.settings.grpc_port >= 0:
            import grpc

            from xrbridge.bridge.grpc_server import GrpcServer

            creds = None
            if self.settings.tls:
                creds = grpc.ssl_server_credentials(
                    [
                        (
                            Path(self.settings.tls_key).read_bytes(),
                            Path(self.settings.tls_cert).read_bytes(),
                        )
                    ]
                )
            self.grpc = GrpcServer(self.hub, self.registry, self.settings, creds)
            await self.grpc.start()

    async def stop(self) -> None:
        await self.hub.stop()
        if self.ws is not None:
            await self.ws.stop()
        if self.grpc is not None:
            await self.grpc.stop(0.5)
        self.executor.shutdown(wait=False, cancel_futures=True)
        if self.writer is not None:
            await asyncio.to_thread(self.writer.close)
        if self.plant is not None:
            await self.plant.stop()
        if self.records is not None:
            self.records.close()

    def _on_records(self, records: list[Any]) -> None:
        """Records of cars that left (inference thread): to the writer and the plant sinks."""
        if self.writer is not None:
            self.writer.submit_many(records)
        if self.plant is not None:
            self.plant.on_records(records)

    @property
    def urls(self) -> dict[str, str]:
        host = self.settings.host
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        out: dict[str, str] = {}
        if self.ws is not None:
            ws, http = ("wss", "https") if self.settings.tls else ("ws", "http")
            out["websocket"] = f"{ws}://{shown}:{self.ws.port}/ws"
            out["viewer"] = f"{http}://{shown}:{self.ws.port}/"
            out["metrics"] = f"{http}://{shown}:{self.ws.port}/metrics"
            out["status"] = f"{http}://{shown}:{self.ws.port}/status"
        if self.grpc is not None:
            out["grpc"] = f"{shown}:{self.grpc.port}"
        return out

    async def __aenter__(self) -> Bridge:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve_forever(bridge: Bridge, stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set (or the task is cancelled, e.g. by Ctrl-C)."""
    async with bridge:
        await (stop or asyncio.Event()).wait()
