"""The gRPC server with the real pipeline: ingest, subscribe, control, health, reflection, auth, TLS."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import cv2
import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from tests.bridge_support import FACTOR, clip, running, scene_dir
from xrbridge.core.types import Frame
from xrbridge.wire.codec import frame_to_proto, overlay_from_proto
from xrbridge.wire.gen import control_pb2, frame_pb2, services_pb2_grpc


@pytest.fixture(scope="module")
def car_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clip(tmp_path_factory.mktemp("clips") / "car.mp4", 30, 100)


def _frames(n: int, start: int = 70) -> list:
    cap = cv2.VideoCapture(str(scene_dir() / "line.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = [cap.read()[1] for _ in range(n)]
    cap.release()
    return out


def test_ingest_subscribe_control_health_reflection(car_clip: Path) -> None:
    imgs = _frames(6)

    async def go() -> None:
        async with running(sources=(f"line={car_clip}", "cam=push"), loop=True) as b:
            async with grpc.aio.insecure_channel(b.urls["grpc"]) as ch:
                # Control
                ctl = services_pb2_grpc.ControlStub(ch)
                lm = await ctl.ListModels(control_pb2.ListModelsRequest())
                assert lm.active == b.model
                assert {m.view for m in lm.models} >= {"lower_front", "lower_center", "lower_back"}
                assert all(m.name == f"{b.model}-{m.view}" for m in lm.models)
                bad = await ctl.SelectModel(
                    control_pb2.SelectModelRequest(stream_id="line", name="../x")
                )
                assert not bad.ok and "valid:" in bad.message
                # a name ListModels returned is one SelectModel takes (it selects that set)
                good = await ctl.SelectModel(
                    control_pb2.SelectModelRequest(stream_id="line", name=lm.models[0].name)
                )
                assert good.ok and good.active == b.model, good.message
                # Subscribe (server streaming) while frames are pushed (client streaming)
                sub = services_pb2_grpc.SubscribeStub(ch)
                call = sub.Overlays(control_pb2.SubscribeRequest(stream_id="cam"))

                async def frames():
                    for i, img in enumerate(imgs):
                        yield frame_to_proto(Frame("cam", i, i / 30, img), "jpeg")
                        await asyncio.sleep(0.05)
                    yield frame_pb2.Frame(
                        stream_id="cam",
                        seq=99,
                        t_capture=1.0,
                        width=848,
                        height=480,
                        encoding=frame_pb2.IMAGE_ENCODING_JPEG,
                        data=b"\xff\xd8broken",
                    )
                    yield frame_to_proto(Frame("cam", 100, 2.0, imgs[0][:64, :64].copy()), "png")

                ingest = services_pb2_grpc.FrameIngestStub(ch).Push(frames())
                summary = await ingest
                assert summary.stream_id == "cam" and summary.frames_received == len(imgs)
                trailing = dict(await ingest.trailing_metadata())
                assert trailing["xrbridge-errors"] == "2"
                got = await asyncio.wait_for(call.read(), 30 * FACTOR)
                ov = overlay_from_proto(got)
                assert ov.stream_id == "cam" and 0 <= ov.seq < len(imgs)
                call.cancel()
                # a video stream over gRPC
                call = sub.Overlays(control_pb2.SubscribeRequest(stream_id="line"))
                seqs = [(await asyncio.wait_for(call.read(), 20 * FACTOR)).seq for _ in range(5)]
                assert seqs == sorted(seqs)
                call.cancel()
                st = await ctl.GetStatus(control_pb2.GetStatusRequest(stream_id="line"))
                assert st.state == "running" and st.frames_received > 0 and st.latency_ms_p99 > 0
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await ctl.GetStatus(control_pb2.GetStatusRequest(stream_id="nope"))
                assert exc.value.code() == grpc.StatusCode.NOT_FOUND

                # unknown stream on ingest ends that call only
                async def wrong():
                    yield frame_to_proto(Frame("nope", 0, 0.0, imgs[0]), "jpeg")

                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await services_pb2_grpc.FrameIngestStub(ch).Push(wrong())
                assert exc.value.code() == grpc.StatusCode.NOT_FOUND
                # health + reflection
                h = await health_pb2_grpc.HealthStub(ch).Check(
                    health_pb2.HealthCheckRequest(service="")
                )
                assert h.status == health_pb2.HealthCheckResponse.SERVING
                refl = reflection_pb2_grpc.ServerReflectionStub(ch)

                async def ask():
                    yield reflection_pb2.ServerReflectionRequest(list_services="")

                async for resp in refl.ServerReflectionInfo(ask()):
                    names = {s.name for s in resp.list_services_response.service}
                    break
                assert {
                    "xrbridge.v1.FrameIngest",
                    "xrbridge.v1.Subscribe",
                    "xrbridge.v1.Control",
                    "grpc.health.v1.Health",
                } <= names
            assert b.metrics.errors.value("bad_image") == 1
            assert b.metrics.errors.value("wrong_size") == 1

    asyncio.run(go())


def test_grpc_token_required(car_clip: Path) -> None:
    async def go() -> None:
        async with running(sources=(f"line={car_clip}",), token="s3cret") as b:
            async with grpc.aio.insecure_channel(b.urls["grpc"]) as ch:
                ctl = services_pb2_grpc.ControlStub(ch)
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await ctl.ListModels(control_pb2.ListModelsRequest())
                assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    await ctl.ListModels(
                        control_pb2.ListModelsRequest(),
                        metadata=(("authorization", "Bearer wrong"),),
                    )
                assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
                ok = await ctl.ListModels(
                    control_pb2.ListModelsRequest(), metadata=(("authorization", "Bearer s3cret"),)
                )
                assert ok.active == b.model
            assert b.metrics.errors.value("unauthenticated") == 2

    asyncio.run(go())


@pytest.mark.skipif(
    shutil.which("openssl") is None, reason="needs the openssl command (CI installs it)"
)
def test_tls_on_both_servers(car_clip: Path, tmp_path: Path) -> None:
    from websockets.asyncio.client import connect

    from tests.bridge_support import pack, recv_until

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )

    async def go() -> None:
        import ssl

        async with running(
            sources=(f"line={car_clip}",), loop=True, tls_cert=str(cert), tls_key=str(key)
        ) as b:
            assert b.urls["websocket"].startswith("wss://")
            ctx = ssl.create_default_context(cafile=str(cert))
            async with connect(b.urls["websocket"], ssl=ctx, proxy=None) as ws:
                await ws.send(pack({"type": "subscribe", "streams": ["line"]}))
                await recv_until(ws, "overlay_frame", 20)
            creds = grpc.ssl_channel_credentials(cert.read_bytes())
            async with grpc.aio.secure_channel(b.urls["grpc"], creds) as ch:
                lm = await services_pb2_grpc.ControlStub(ch).ListModels(
                    control_pb2.ListModelsRequest()
                )
                assert lm.active == b.model

    asyncio.run(go())


def test_malformed_requests_are_invalid_argument_and_counted() -> None:
    async def go() -> None:
        async with running(sources=("p=push",), records_db="") as b:
            async with grpc.aio.insecure_channel(b.urls["grpc"]) as ch:
                garbage = b"\xff\xff\xff\xff not protobuf"
                calls = [
                    ch.unary_unary("/xrbridge.v1.Control/GetStatus")(garbage),
                    ch.stream_unary("/xrbridge.v1.FrameIngest/Push")(iter([garbage])),
                ]
                for call in calls:
                    with pytest.raises(grpc.aio.AioRpcError) as exc:
                        await call
                    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                    assert "not the expected protobuf message" in (exc.value.details() or "")
                stream = ch.unary_stream("/xrbridge.v1.Subscribe/Overlays")(garbage)
                with pytest.raises(grpc.aio.AioRpcError) as exc:
                    async for _ in stream:
                        pass
                assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
                # the server still answers good calls
                ok = await services_pb2_grpc.ControlStub(ch).GetStatus(
                    control_pb2.GetStatusRequest()
                )
                assert ok.stream_id == "p"
            assert b.metrics.errors.value("bad_message") == 3

    asyncio.run(go())
