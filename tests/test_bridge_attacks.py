"""Short forms of the attacks of bench/attack_bridge.py, against a real server on 127.0.0.1.

No token, no service: idle connections are capped and closed at the auth
deadline, nothing large is read or decoded before auth, bad tokens wait
longer each time, a client that stops reading is closed, and through all of
it a token holder keeps receiving overlays.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgpack
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.bridge_support import FACTOR, clip, pack, recv_until, running

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def car_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return clip(tmp_path_factory.mktemp("clips") / "car.mp4", 30, 100)


async def _closed_code(ws: object, timeout: float) -> int | None:
    try:
        async with asyncio.timeout(timeout * FACTOR):
            while True:
                await ws.recv()  # type: ignore[attr-defined]
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd is not None else None
    return None


async def _overlays(url: str, seconds: float, local: str = "127.0.0.2") -> tuple[int, float]:
    """(overlays received, largest gap in s) of a token holder from another loopback address."""
    n, gap, last = 0, 0.0, None
    async with connect(url, proxy=None, additional_headers=AUTH, local_addr=(local, 0)) as ws:
        await ws.send(pack({"type": "subscribe", "streams": ["line"]}))
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            m = msgpack.unpackb(await asyncio.wait_for(ws.recv(), 10 * FACTOR), raw=False)
            if m["type"] == "overlay_frame":
                now = time.monotonic()
                if last is not None:
                    gap = max(gap, now - last)
                last, n = now, n + 1
    return n, gap


def test_idle_unauthenticated_connections_are_capped_and_timed_out(car_clip: Path) -> None:
    async def go() -> None:
        async with running(
            sources=(f"line={car_clip}",),
            loop=True,
            token=TOKEN,
            auth_deadline_s=1.0,
            max_connections_per_address=30,
            max_unauthenticated=10,
        ) as b:
            url = b.urls["websocket"]

            async def one() -> object:
                try:
                    return await connect(url, proxy=None, open_timeout=5 * FACTOR)
                except Exception:  # refused: 503 at the handshake or dropped at accept
                    return None

            got = await asyncio.gather(*(one() for _ in range(40)))  # all within the deadline
            idle = [c for c in got if c is not None]
            refused = len(got) - len(idle)
            assert len(idle) <= 10 and refused >= 30, (len(idle), refused)
            # a token holder from the same address still connects and is served
            watcher = asyncio.create_task(_overlays(url, 2.5, local="127.0.0.1"))
            codes = await asyncio.gather(*(_closed_code(ws, 5) for ws in idle))
            assert set(codes) == {1008}, codes  # every idle one closed at the deadline
            n, _gap = await watcher
            assert n >= 10, "a token holder is served meanwhile"
            assert b.ws.conns.total <= 1
            assert b.hub.streams["line"].stats.state == "running"

    asyncio.run(go())


def test_nothing_large_is_read_before_auth(car_clip: Path) -> None:
    async def go() -> None:
        async with running(sources=(f"line={car_clip}",), loop=True, token=TOKEN) as b:
            url = b.urls["websocket"]
            # 1 MiB of empty arrays (msgpack would build a million lists): refused unread, 1009
            bomb = b"\xdd" + (2**20).to_bytes(4, "big") + b"\x90" * 2**20
            async with connect(url, proxy=None, max_size=None) as ws:
                await ws.send(bomb)
                assert await _closed_code(ws, 5) == 1009
            # a first fragment only, never finished: closed as soon as it passes the pre-auth size
            async with connect(url, proxy=None) as ws:

                async def fragments():  # type: ignore[no-untyped-def]
                    yield b"\x00" * 3000
                    yield b"\x00" * 3000
                    await asyncio.sleep(30)
                    yield b""

                sender = asyncio.create_task(ws.send(fragments()))
                assert await _closed_code(ws, 5) == 1009
                sender.cancel()
            async with asyncio.timeout(5 * FACTOR):
                while b.metrics.errors.value("too_large") < 2:
                    await asyncio.sleep(0.05)

    asyncio.run(go())


def test_bounded_decode_after_auth_keeps_others_flowing(car_clip: Path) -> None:
    async def go() -> None:
        async with running(
            sources=(f"line={car_clip}",), loop=True, token=TOKEN, max_message_bytes=4 * 2**20
        ) as b:
            url = b.urls["websocket"]
            bomb = b"\xdd" + (4 * 2**20 - 8).to_bytes(4, "big") + b"\x90" * (4 * 2**20 - 8)
            watcher = asyncio.create_task(_overlays(url, 3.0))
            await asyncio.sleep(0.5)
            t0 = time.perf_counter()
            async with connect(url, proxy=None, additional_headers=AUTH, max_size=None) as ws:
                for _ in range(3):
                    await ws.send(bomb)
                    assert (await recv_until(ws, "error"))["code"] == "too_large"
            assert time.perf_counter() - t0 < 3 * FACTOR
            n, gap = await watcher
            assert n >= 10 and gap < 1.0 * FACTOR, (n, gap)

    asyncio.run(go())


def test_wrong_tokens_wait_longer_each_time(car_clip: Path) -> None:
    async def go() -> None:
        async with running(sources=(f"line={car_clip}",), loop=True, token=TOKEN) as b:
            url = b.urls["websocket"]
            t0 = time.perf_counter()
            for _ in range(5):
                with pytest.raises(InvalidStatus):
                    await connect(
                        url, proxy=None, additional_headers={"Authorization": "Bearer guess"}
                    )
            slow = time.perf_counter() - t0
            assert slow >= 0.1 + 0.2 + 0.4 + 0.8 + 1.6 - 0.05  # instead of 1,000 tries a second
            # hello with a wrong token: answered, then closed, after the address's delay
            async with connect(url, proxy=None) as ws:
                await ws.send(pack({"type": "hello", "token": "guess"}))
                assert (await recv_until(ws, "error"))["code"] == "unauthenticated"
                assert await _closed_code(ws, 10) == 1008
            assert b.metrics.errors.value("unauthenticated") == 6

    asyncio.run(go())


def test_a_subscriber_that_stops_reading_is_closed_1011(car_clip: Path) -> None:
    async def go() -> None:
        async with running(sources=(f"line={car_clip}",), loop=True, send_timeout_s=1.0) as b:
            stuck = await connect(b.urls["websocket"], proxy=None, max_queue=1, max_size=None)
            try:
                await stuck.send(pack({"type": "subscribe", "streams": ["line"], "video": True}))
                async with asyncio.timeout(20 * FACTOR):
                    while b.metrics.errors.value("slow_subscriber") < 1:
                        await asyncio.sleep(0.2)
                async with asyncio.timeout(10 * FACTOR):
                    while b.metrics.subscribers.value("websocket") > 0:
                        await asyncio.sleep(0.2)
            finally:
                stuck.transport.abort()

    asyncio.run(go())


def test_slow_loris_handshake_is_cut(car_clip: Path) -> None:
    async def go() -> None:
        async with running(sources=(f"line={car_clip}",), loop=True, auth_deadline_s=1.0) as b:
            reader, writer = await asyncio.open_connection("127.0.0.1", b.ws.port)
            writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\n")  # never finishes the headers
            await writer.drain()
            t0 = time.perf_counter()
            assert await asyncio.wait_for(reader.read(), 10 * FACTOR) == b""  # closed by the server
            assert time.perf_counter() - t0 < 5 * FACTOR
            writer.close()

    asyncio.run(go())
