"""Limits at the door without sockets: the msgpack walk, connection caps, auth backoff."""

from __future__ import annotations

import time

import msgpack
import pytest

from xrbridge.bridge.limits import AuthBackoff, ConnectionLimiter, check_msgpack
from xrbridge.errors import LimitError, WireError


@pytest.mark.parametrize(
    "value",
    [
        {
            "type": "frame",
            "stream_id": "cam",
            "seq": 2**62,
            "t_capture": 1.5,
            "data": b"\xff" * 70_000,
        },
        {"type": "hello", "schema_version": 1, "token": "x" * 300, "client": "é"},
        [
            None,
            True,
            False,
            -1,
            -200,
            2**40,
            -(2**40),
            1.5,
            "s",
            b"b",
            [],
            {},
            {"a": [1, {"b": 2}]},
        ],
        msgpack.ExtType(5, b"abc"),
    ],
)
def test_valid_messages_pass(value: object) -> None:
    check_msgpack(msgpack.packb(value, use_bin_type=True))


def test_worst_case_messages_are_refused_fast() -> None:
    # 8 MiB of empty arrays inside one array: msgpack would build 8 million lists
    bomb = b"\xdd" + (8 * 2**20).to_bytes(4, "big") + b"\x90" * (8 * 2**20)
    t0 = time.perf_counter()
    with pytest.raises(LimitError, match="more than 4096"):
        check_msgpack(bomb)
    # maps of maps, each small, many of them
    nested = b"\x81\xa1k" * 3000 + b"\xc0"
    with pytest.raises(LimitError, match="deeper than 8"):
        check_msgpack(nested)
    flat = b"\xdc\x20\x00" + b"\x90" * 0x2000  # 8192 empty arrays
    with pytest.raises(LimitError):
        check_msgpack(flat)
    assert time.perf_counter() - t0 < 0.5


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"\xdb\xff\xff\xff\xff" + b"x" * 10,
        b"\x92\x01",
        msgpack.packb({"a": 1}) + b"\x00",
    ],
)
def test_broken_msgpack_is_a_wire_error(data: bytes) -> None:
    with pytest.raises(WireError):
        check_msgpack(data)


def test_connection_limiter_total_and_per_address() -> None:
    lim = ConnectionLimiter(max_total=3, max_per_address=2)
    assert lim.acquire("a") and lim.acquire("a")
    assert not lim.acquire("a")  # per address
    assert lim.acquire("b")
    assert not lim.acquire("c")  # total
    assert lim.refused == 2
    lim.release("a")
    assert lim.acquire("c") and lim.total == 3
    lim.release("zzz")  # unknown: ignored
    assert lim.total == 3 and lim.count("a") == 1


def test_auth_backoff_doubles_then_forgets() -> None:
    b = AuthBackoff(initial=0.1, maximum=1.0)
    assert b.delay("x", 0.0) == 0.0
    assert [b.failed("x", 0.0) for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    assert b.delay("y", 0.0) == 0.0  # per address
    assert b.delay("x", 10.0) == 0.0  # quiet for 4x the maximum
    b.failed("x", 20.0)
    b.succeeded("x")
    assert b.delay("x", 20.0) == 0.0
    small = AuthBackoff(max_addresses=2)
    for a in "abc":
        small.failed(a, 0.0)
    assert small.delay("a", 0.0) == 0.0 and small.delay("c", 0.0) > 0  # bounded memory
