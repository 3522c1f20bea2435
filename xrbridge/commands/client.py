"""``xrbridge client URL``: the reference client; prints or records what the bridge streams."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

HELP = "connect to a bridge (ws://, wss:// or grpc://HOST:PORT) and print or --record its overlays"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="ws://HOST:PORT/ws, wss://..., or grpc://HOST:PORT")
    parser.add_argument("--record", type=Path, default=None, help="write every overlay as a JSON line")
    parser.add_argument("--stream", action="append", default=None, help="stream id (repeatable; default all)")
    parser.add_argument("--count", type=int, default=0, help="stop after N overlays (0: until Ctrl-C)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after S seconds (0: no limit)")
    parser.add_argument("--token", default=None, help="bearer token (default: $XRBRIDGE_TOKEN)")
    parser.add_argument("--model", default=None, help="select this model on the stream first")
    parser.add_argument("--cafile", type=Path, default=None, help="CA certificate for wss:// / TLS gRPC")


def _summary_line(d: dict[str, Any]) -> dict[str, Any]:
    tr = d.get("track")
    return {"stream": d["stream_id"], "seq": d["seq"], "t": round(d["t_capture"], 3), "view": d["view"],
            "car": tr["car_id"] if tr else None, "score": d["image_score"],
            "defects": [(x["defect_id"], x["severity"]) for x in d["defects"] if x["confirmed"]]}


async def _ws(args: argparse.Namespace, token: str, emit: Any, stop: asyncio.Event) -> None:
    import ssl

    import msgpack
    from websockets.asyncio.client import connect

    from xrbridge.errors import AuthError, WireError

    ctx = None
    if args.url.startswith("wss://"):
        ctx = ssl.create_default_context(cafile=str(args.cafile) if args.cafile else None)
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        async with connect(args.url, additional_headers=headers, ssl=ctx, proxy=None,
                           max_size=64 * 1024 * 1024) as ws:
            await ws.send(msgpack.packb({"type": "hello", "schema_version": 1, "client": "xrbridge-client"}))
            await ws.send(msgpack.packb({"type": "subscribe", "streams": args.stream or []}))
            if args.model:
                for s in args.stream or [None]:
                    msg = {"type": "select_model", "name": args.model}
                    if s:
                        msg["stream_id"] = s
                    await ws.send(msgpack.packb(msg))
            while not stop.is_set():
                m = msgpack.unpackb(await ws.recv(), raw=False)
                if m.get("type") == "overlay_frame":
                    if emit(m):
                        return
                elif m.get("type") == "error":
                    print(json.dumps({"error": m}), file=sys.stderr, flush=True)
                    if m.get("code") == "unauthenticated":
                        raise AuthError(f"server refused the token: {m.get('message')}")
    except OSError as exc:
        raise WireError(f"cannot connect to {args.url}: {exc}") from exc


async def _grpc(args: argparse.Namespace, token: str, emit: Any, stop: asyncio.Event) -> None:
    import grpc

    from xrbridge.errors import WireError
    from xrbridge.wire.codec import overlay_from_proto, overlay_to_dict
    from xrbridge.wire.gen import control_pb2, services_pb2_grpc

    target = args.url.split("://", 1)[1].rstrip("/")
    md = (("authorization", f"Bearer {token}"),) if token else None
    if args.cafile:
        creds = grpc.ssl_channel_credentials(args.cafile.read_bytes())
        channel = grpc.aio.secure_channel(target, creds)
    else:
        channel = grpc.aio.insecure_channel(target)
    async with channel:
        if args.model:
            ctl = services_pb2_grpc.ControlStub(channel)
            r = await ctl.SelectModel(control_pb2.SelectModelRequest(
                stream_id=(args.stream or [""])[0], name=args.model), metadata=md)
            if not r.ok:
                raise WireError(r.message)
        sub = services_pb2_grpc.SubscribeStub(channel)
        call = sub.Overlays(control_pb2.SubscribeRequest(stream_id=(args.stream or [""])[0]), metadata=md)
        try:
            async for msg in call:
                if emit(overlay_to_dict(overlay_from_proto(msg))) or stop.is_set():
                    call.cancel()
                    return
        except grpc.aio.AioRpcError as exc:
            raise WireError(f"gRPC {exc.code().name}: {exc.details()}") from exc


def run(args: argparse.Namespace) -> int:
    import os

    from xrbridge.bridge.runner import run_async
    from xrbridge.errors import UsageError

    token = args.token if args.token is not None else os.environ.get("XRBRIDGE_TOKEN", "")
    scheme = args.url.split("://", 1)[0]
    if scheme not in ("ws", "wss", "grpc"):
        raise UsageError(f"URL must start with ws://, wss:// or grpc://, got {args.url!r}")
    rec = args.record.open("w", encoding="utf-8") if args.record else None
    n = 0

    def emit(d: dict[str, Any]) -> bool:
        nonlocal n
        n += 1
        if rec is not None:
            rec.write(json.dumps(d, separators=(",", ":")) + "\n")
        else:
            print(json.dumps(_summary_line(d)), flush=True)
        return bool(args.count) and n >= args.count

    async def main(stop: asyncio.Event) -> int:
        t0 = time.perf_counter()
        task = asyncio.create_task((_grpc if scheme == "grpc" else _ws)(args, token, emit, stop))
        waiters = {task, asyncio.create_task(stop.wait())}
        if args.seconds > 0:
            waiters.add(asyncio.create_task(asyncio.sleep(args.seconds)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in waiters:
                if t is not task:
                    t.cancel()
            if not task.done():
                task.cancel()
            if rec is not None:
                rec.close()
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
        summary: dict[str, object] = {"overlays": n, "seconds": round(time.perf_counter() - t0, 2)}
        if args.record:
            summary["record"] = str(args.record)
        print(json.dumps(summary), file=sys.stderr if rec is None else sys.stdout, flush=True)
        return 0

    return run_async(main)
