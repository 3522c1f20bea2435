"""Attacks on a running bridge, loopback only, bounded loops. JSON on stdout.

    python bench/attack_bridge.py [--idle 1000] [--senders 20] [--rounds 5] [--models-dir models]

Starts ``xrbridge serve`` in a child process (token required, the embedded
line video looping in real time) and, from this process:

1. ``idle``: opens ``--idle`` WebSocket connections without the token from
   16 loopback addresses (127.0.1.1..16) and leaves them idle. Reports how
   many were accepted / refused at the door, whether a token holder (from
   127.0.0.2) still connects and receives overlays meanwhile, how many idle
   ones the server closed by the auth deadline, and the server's RSS growth.
2. ``bombs``: ``--senders`` concurrent clients without the token, each
   sending ``--rounds`` worst-case 8 MiB messages (one msgpack array of 8
   million empty arrays, which msgpack would turn into 8 million lists).
   Reports the server's RSS growth (peak: VmHWM) and the token holder's
   gaps between overlays (p50 / p99 / max).
3. ``file``: the served video file is removed for ``--down`` seconds and
   restored; reports how long ``/healthz`` said 503 and the time from the
   restore to the first new frame.

Goals of issue 15: RSS growth < 100 MB and a p99 gap < 100 ms under the bombs;
the idle flood leaves token holders served; the stream recovers by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "attack-bench-token"


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def healthz(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


async def reference(
    url: str, stop: asyncio.Event, gaps: list[float], local: str = "127.0.0.2"
) -> int:
    """A token holder: overlays received; the gaps between them appended (s)."""
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    with contextlib.suppress(ConnectionClosed):
        await _reference(connect, url, stop, gaps, local)
    return len(gaps) + 1 if gaps else 0


async def _reference(
    connect: Any, url: str, stop: asyncio.Event, gaps: list[float], local: str
) -> None:
    n, last = 0, None
    async with connect(
        url,
        proxy=None,
        additional_headers={"Authorization": f"Bearer {TOKEN}"},
        local_addr=(local, 0),
        open_timeout=20,
    ) as ws:
        await ws.send(msgpack.packb({"type": "subscribe", "streams": ["line"]}))
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 1.0)
            except TimeoutError:
                continue
            if msgpack.unpackb(raw, raw=False).get("type") == "overlay_frame":
                now = time.perf_counter()
                if last is not None:
                    gaps.append(now - last)
                last, n = now, n + 1


class Reference:
    """A token holder in its own process (its gaps are not the attackers' client-side cost)."""

    def __init__(self, url: str, seconds: float, local: str = "127.0.0.2") -> None:
        cmd = [
            sys.executable,
            __file__,
            "--reference",
            url,
            "--seconds",
            str(seconds),
            "--local",
            local,
        ]
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}
        )

    async def result(self) -> dict[str, Any]:
        out, _ = await asyncio.to_thread(self.proc.communicate)
        return json.loads(out)


async def reference_main(url: str, seconds: float, local: str) -> dict[str, Any]:
    stop, gaps = asyncio.Event(), []
    task = asyncio.create_task(reference(url, stop, gaps, local))
    await asyncio.sleep(seconds)
    stop.set()
    try:
        n = await task
    except Exception as exc:
        return {"overlays": 0, "error": f"{type(exc).__name__}: {exc}"}
    return {"overlays": n, "gap_ms": stats_ms(gaps)}


def stats_ms(gaps: list[float]) -> dict[str, float]:
    if not gaps:
        return {}
    a = np.asarray(gaps) * 1000
    return {
        "p50": round(float(np.percentile(a, 50)), 1),
        "p99": round(float(np.percentile(a, 99)), 1),
        "max": round(float(a.max()), 1),
        "n": int(a.size),
    }


async def idle_flood(url: str, pid: int, n: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    rss0 = rss_mb(pid)
    ref = Reference(url, 12.0)
    await asyncio.sleep(2.0)

    async def one(i: int) -> Any:
        try:
            return await connect(
                url, proxy=None, local_addr=(f"127.0.1.{1 + i % 16}", 0), open_timeout=10
            )
        except Exception:
            return None

    t0 = time.perf_counter()
    conns = await asyncio.gather(*(one(i) for i in range(n)))
    opened = [c for c in conns if c is not None]
    rss_peak_open = rss_mb(pid)
    # a second token holder connects while the flood holds its connections (same address too)
    late_stop, late_gaps = asyncio.Event(), []
    late = asyncio.create_task(reference(url, late_stop, late_gaps, "127.0.1.1"))
    await asyncio.sleep(2.0)
    late_stop.set()
    late_n = await late

    async def closed_by_server(c: Any) -> bool:
        try:
            async with asyncio.timeout(15):
                while True:
                    await c.recv()
        except TimeoutError:
            return False
        except Exception:
            return True

    closed = await asyncio.gather(*(closed_by_server(c) for c in opened))
    t_all_closed = time.perf_counter() - t0
    return {
        "attempted": n,
        "accepted": len(opened),
        "refused_at_door": n - len(opened),
        "closed_by_auth_deadline": int(sum(closed)),
        "seconds_until_all_closed": round(t_all_closed, 1),
        "token_holder": await ref.result(),
        "late_token_holder_overlays": late_n,
        "rss_mb_before": round(rss0, 1),
        "rss_mb_with_flood": round(rss_peak_open, 1),
        "rss_growth_mb": round(rss_peak_open - rss0, 1),
    }


async def bombs(url: str, pid: int, senders: int, rounds: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    body = 8 * 2**20 - 5
    bomb = b"\xdd" + body.to_bytes(4, "big") + b"\x90" * body
    rss0, hwm0 = rss_mb(pid), rss_mb(pid, "VmHWM")
    ref = Reference(url, 14.0)
    await asyncio.sleep(2.0)
    codes: dict[str, int] = {}

    async def sender(i: int) -> None:
        for _ in range(rounds):
            try:
                async with connect(
                    url,
                    proxy=None,
                    max_size=None,
                    open_timeout=20,
                    local_addr=(f"127.0.2.{1 + i}", 0),
                ) as ws:
                    await ws.send(bomb)
                    await asyncio.wait_for(ws.wait_closed(), 20)
                    k = str(ws.close_code)
            except Exception as exc:  # the server closed the socket while the client still sent
                k = f"closed_during_send ({type(exc).__name__})"
            codes[k] = codes.get(k, 0) + 1

    t0 = time.perf_counter()
    await asyncio.gather(*(sender(i) for i in range(senders)))
    elapsed = time.perf_counter() - t0
    return {
        "senders": senders,
        "messages": senders * rounds,
        "message_mb": 8,
        "seconds": round(elapsed, 1),
        "close_codes": codes,
        "rss_mb_before": round(rss0, 1),
        "rss_mb_after": round(rss_mb(pid), 1),
        "peak_rss_growth_mb": round(rss_mb(pid, "VmHWM") - max(hwm0, rss0), 1),
        "reference": await ref.result(),
    }


async def file_outage(base: str, video: Path, backup: Path, down_s: float) -> dict[str, Any]:
    url = base + "healthz"
    status = base + "status"
    hdr = {"Authorization": f"Bearer {TOKEN}"}

    def frames_in() -> int:
        req = urllib.request.Request(status, headers=hdr)
        with urllib.request.urlopen(req, timeout=5) as r:
            return int(json.loads(r.read())["streams"][0]["frames_in"])

    video.unlink()
    t_rm = time.perf_counter()
    t_503 = None
    while time.perf_counter() - t_rm < down_s:
        if t_503 is None and await asyncio.to_thread(healthz, url) == 503:
            t_503 = time.perf_counter() - t_rm
        await asyncio.sleep(0.05)
    n0 = await asyncio.to_thread(frames_in)
    shutil.copy(backup, video)
    t_back = time.perf_counter()
    t_ok = t_frame = None
    while time.perf_counter() - t_back < 60 and (t_ok is None or t_frame is None):
        if t_ok is None and await asyncio.to_thread(healthz, url) == 200:
            t_ok = time.perf_counter() - t_back
        if t_frame is None and await asyncio.to_thread(frames_in) > n0:
            t_frame = time.perf_counter() - t_back
        await asyncio.sleep(0.05)
    return {
        "down_s": down_s,
        "healthz_503_after_s": None if t_503 is None else round(t_503, 2),
        "healthz_200_after_restore_s": None if t_ok is None else round(t_ok, 2),
        "first_frame_after_restore_s": None if t_frame is None else round(t_frame, 2),
    }


def short_clip(src: Path, dst: Path, frames: int) -> Path:
    """The first ``frames`` frames of ``src`` (a 2 s pass: an outage shows within a pass)."""
    import cv2

    cap = cv2.VideoCapture(str(src))
    out = None
    for _ in range(frames):
        ok, img = cap.read()
        if not ok:
            break
        if out is None:
            out = cv2.VideoWriter(
                str(dst), cv2.VideoWriter.fourcc(*"mp4v"), 30.0, (img.shape[1], img.shape[0])
            )
        out.write(img)
    cap.release()
    assert out is not None, f"{src} unreadable"
    out.release()
    return dst


async def main(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="xrbridge-attack-"))
    from xrbridge.sim import embedded_line_dir

    backup = short_clip(Path(embedded_line_dir()) / "line.mp4", work / "clip.mp4", 60)
    video = work / "line.mp4"
    shutil.copy(backup, video)
    cmd = [
        sys.executable,
        "-m",
        "xrbridge",
        "serve",
        "--ws-port",
        "0",
        "--grpc-port",
        "0",
        "--token",
        TOKEN,
        "--sources",
        f"line={video}",
        "--loop",
        "--models-dir",
        str(args.models_dir),
        "--records-db",
        "",
        "--auth-deadline-s",
        str(args.auth_deadline),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=work
    )
    try:
        assert proc.stdout is not None
        urls = json.loads(proc.stdout.readline())["serving"]
        out: dict[str, Any] = {"server_pid": proc.pid, "rss_mb_start": round(rss_mb(proc.pid), 1)}
        await asyncio.sleep(2.0)
        out["baseline_reference"] = await Reference(urls["websocket"], 8.0).result()
        if args.idle:
            out["idle"] = await idle_flood(urls["websocket"], proc.pid, args.idle)
        if args.senders:
            out["bombs"] = await bombs(urls["websocket"], proc.pid, args.senders, args.rounds)
        if args.down:
            out["file"] = await file_outage(urls["viewer"], video, backup, args.down)
        out["rss_mb_end"] = round(rss_mb(proc.pid), 1)
        out["server_alive"] = proc.poll() is None
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reference", default="", help=argparse.SUPPRESS)
    p.add_argument("--seconds", type=float, default=10.0, help=argparse.SUPPRESS)
    p.add_argument("--local", default="127.0.0.2", help=argparse.SUPPRESS)
    p.add_argument("--idle", type=int, default=1000)
    p.add_argument("--senders", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument(
        "--down", type=float, default=3.0, help="seconds the video file stays removed (0: skip)"
    )
    p.add_argument("--auth-deadline", type=float, default=5.0)
    p.add_argument("--models-dir", type=Path, default=ROOT / "models")
    a = p.parse_args()
    if a.reference:
        print(json.dumps(asyncio.run(reference_main(a.reference, a.seconds, a.local))))
        sys.exit(0)
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(json.dumps(asyncio.run(main(a)), indent=1))
