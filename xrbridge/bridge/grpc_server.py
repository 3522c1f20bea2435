"""The gRPC server (grpc.aio): services (:mod:`~xrbridge.bridge.grpc_services`), health, reflection.

Health: ``""`` and ``stream/<id>`` are NOT_SERVING while a stream is down. A
wrong or missing token: UNAUTHENTICATED after the failed-auth backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from xrbridge.bridge.grpc_guard import AuthInterceptor, MalformedInterceptor
from xrbridge.bridge.grpc_services import Services
from xrbridge.bridge.hub import Hub
from xrbridge.bridge.limits import AuthBackoff
from xrbridge.bridge.registry import ModelRegistry
from xrbridge.bridge.settings import Settings
from xrbridge.wire.gen import services_pb2, services_pb2_grpc

SERVICE_NAMES = tuple(
    services_pb2.DESCRIPTOR.services_by_name[n].full_name
    for n in ("FrameIngest", "Subscribe", "Control")
)
SERVING, NOT_SERVING = (
    health_pb2.HealthCheckResponse.SERVING,
    health_pb2.HealthCheckResponse.NOT_SERVING,
)


class GrpcServer:
    """The aio server around one hub."""

    def __init__(
        self,
        hub: Hub,
        registry: ModelRegistry,
        settings: Settings,
        credentials: grpc.ServerCredentials | None = None,
    ) -> None:
        self.hub, self.registry, self.settings, self.credentials = (
            hub,
            registry,
            settings,
            credentials,
        )
        self.server: grpc.aio.Server | None = None
        self.port = 0
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> int:
        s, lim = self.settings, self.settings.limits()
        backoff = AuthBackoff(lim.backoff_initial_s, lim.backoff_max_s)
        interceptors = [AuthInterceptor(s.token, self.hub, backoff)] if s.token else []
        interceptors.append(MalformedInterceptor(self.hub))
        server = grpc.aio.server(
            interceptors=interceptors,
            maximum_concurrent_rpcs=s.max_connections,
            options=[
                ("grpc.max_receive_message_length", s.max_message_bytes),
                ("grpc.max_send_message_length", s.max_message_bytes),
                ("grpc.so_reuseport", 0),
                ("grpc.max_connection_idle_ms", 60_000),
                ("grpc.http2.max_pings_without_data", 0),
                ("grpc.keepalive_time_ms", 20_000),
            ],
        )
        svc = Services(self.hub, self.registry, s)
        for add in (
            services_pb2_grpc.add_FrameIngestServicer_to_server,
            services_pb2_grpc.add_SubscribeServicer_to_server,
            services_pb2_grpc.add_ControlServicer_to_server,
        ):
            add(svc, server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        addr = f"{s.host}:{s.grpc_port}"
        if s.grpc_port:  # ask first: grpc's own bind failure also prints C-core lines on stderr
            with socket.socket(socket.AF_INET6 if ":" in s.host else socket.AF_INET) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((s.host, s.grpc_port))  # OSError "Address already in use"
        try:
            self.port = (
                server.add_secure_port(addr, self.credentials)
                if self.credentials
                else server.add_insecure_port(addr)
            )
        except RuntimeError as exc:  # grpc's "Failed to bind"
            raise OSError(f"gRPC port {addr}: {exc}") from exc
        if self.port == 0 and s.grpc_port != 0:
            raise OSError(f"gRPC port {addr} is in use")
        await server.start()
        self.server = server
        await self.update_health()
        self._watch = asyncio.create_task(self._watch_health())
        return self.port

    async def update_health(self) -> None:
        ok = self.hub.health()
        for sid, up in ok.items():
            await self.health.set(f"stream/{sid}", SERVING if up else NOT_SERVING)
        for n in ("", *SERVICE_NAMES):
            await self.health.set(n, SERVING if all(ok.values()) else NOT_SERVING)

    async def _watch_health(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            await self.update_health()

    async def stop(self, grace: float = 1.0) -> None:
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        if self.server is not None:
            await self.server.stop(grace)
