"""Limits at the door: what an anonymous client can cost the server (pure, no I/O).

- :class:`ConnectionLimiter`: open connections in total and per remote
  address. A connection over either cap is refused at accept time; the
  connections already open are kept.
- :class:`AuthBackoff`: each failed authentication from an address doubles
  the wait before the next answer to that address (``initial`` .. ``maximum``
  seconds), so a token cannot be guessed at line rate; a success clears it.
- :func:`check_msgpack`: walks the msgpack headers of a message *before* it is
  decoded and refuses one nested deeper than ``max_depth`` or holding more
  than ``max_elements`` objects. Payloads (bin, str) are skipped, not read,
  so a frame of one 8 MiB ``bin`` costs a few steps while 8 MiB of empty
  arrays (which would become 8 million Python lists) is refused after
  ``max_elements`` steps.

Time is data: the callers pass ``now`` (seconds, any monotonic clock).
"""

from __future__ import annotations

import resource
import struct
from collections import OrderedDict
from dataclasses import dataclass

from xrbridge.errors import LimitError, WireError


@dataclass(frozen=True, slots=True)
class Limits:
    """The door's settings (from :class:`~xrbridge.bridge.settings.Settings`).

    ``max_connections`` / ``per_address``: open connections (raising them
    costs one file descriptor and a few KiB each). ``max_unauthenticated``:
    sessions without the token yet; above it a handshake without the token
    gets HTTP 503, so a flood leaves room for token holders. ``auth_deadline_s``: an
    unauthenticated connection is closed (1008) this long after it opened.
    ``preauth_bytes``: the largest message accepted before auth (a ``hello``
    is a few hundred bytes). ``send_timeout_s``: a subscriber that has not
    taken a message for this long is closed with 1011. ``max_depth`` and
    ``max_elements`` bound every decoded message.
    """

    max_connections: int = 512
    per_address: int = 64
    max_unauthenticated: int = 128
    auth_deadline_s: float = 5.0
    handshake_timeout_s: float = 5.0
    preauth_bytes: int = 4096
    send_timeout_s: float = 10.0
    max_depth: int = 8
    max_elements: int = 4096
    backoff_initial_s: float = 0.1
    backoff_max_s: float = 5.0


class ConnectionLimiter:
    """Counts open connections, in total and per address."""

    def __init__(self, max_total: int, max_per_address: int) -> None:
        if max_total < 1 or max_per_address < 1:
            raise ValueError(f"connection caps must be >= 1, got {max_total}, {max_per_address}")
        self.max_total = max_total
        self.max_per_address = max_per_address
        self.total = 0
        self.refused = 0
        self._by_addr: dict[str, int] = {}

    def acquire(self, addr: str) -> bool:
        """Take a slot for ``addr``; False (and nothing taken) when a cap is reached."""
        n = self._by_addr.get(addr, 0)
        if self.total >= self.max_total or n >= self.max_per_address:
            self.refused += 1
            return False
        self._by_addr[addr] = n + 1
        self.total += 1
        return True

    def release(self, addr: str) -> None:
        n = self._by_addr.get(addr, 0)
        if n <= 0:
            return
        self.total -= 1
        if n == 1:
            del self._by_addr[addr]
        else:
            self._by_addr[addr] = n - 1

    def count(self, addr: str) -> int:
        return self._by_addr.get(addr, 0)


class AuthBackoff:
    """Failed-auth delays per address (bounded memory: the oldest addresses are forgotten)."""

    def __init__(
        self, initial: float = 0.1, maximum: float = 5.0, max_addresses: int = 4096
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.max_addresses = max_addresses
        self._fails: OrderedDict[str, tuple[int, float]] = OrderedDict()  # addr -> (n, t_last)

    def failed(self, addr: str, now: float) -> float:
        """Record a failure; returns how long to wait before answering it."""
        n, _ = self._fails.pop(addr, (0, now))
        self._fails[addr] = (n + 1, now)
        while len(self._fails) > self.max_addresses:
            self._fails.popitem(last=False)
        return self.delay(addr, now)

    def delay(self, addr: str, now: float) -> float:
        """The wait owed by ``addr`` now: ``initial * 2**(n-1)`` capped, forgotten after ``maximum * 4``."""
        got = self._fails.get(addr)
        if got is None:
            return 0.0
        n, t = got
        if now - t > self.maximum * 4:  # quiet long enough: start over
            del self._fails[addr]
            return 0.0
        return min(self.maximum, self.initial * 2 ** min(n - 1, 30))

    def succeeded(self, addr: str) -> None:
        self._fails.pop(addr, None)


def check_msgpack(data: bytes, *, max_depth: int = 8, max_elements: int = 4096) -> None:
    """Refuse a msgpack message nested too deep or holding too many objects, without decoding it.

    Raises:
        LimitError: deeper than ``max_depth`` or more than ``max_elements`` objects.
        WireError: truncated or not msgpack (an unused type byte 0xc1, a length past the end).
    """
    n = len(data)
    i = 0
    # stack of remaining child counts of the open containers
    stack: list[int] = []
    remaining_top = 1
    elements = 0
    mv = memoryview(data)
    while True:
        if remaining_top == 0:
            if not stack:
                break
            remaining_top = stack.pop()
            continue
        remaining_top -= 1
        if i >= n:
            raise WireError(f"msgpack truncated at byte {i} of {n}")
        elements += 1
        if elements > max_elements:
            raise LimitError(f"msgpack message holds more than {max_elements} objects")
        b = data[i]
        i += 1
        children = 0
        skip = 0
        if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):  # fixint, nil, bool
            pass
        elif 0x80 <= b <= 0x8F:
            children = 2 * (b & 0x0F)
        elif 0x90 <= b <= 0x9F:
            children = b & 0x0F
        elif 0xA0 <= b <= 0xBF:
            skip = b & 0x1F
        elif b in (0xC4, 0xD9):  # bin8, str8
            skip = _uint(mv, i, 1, n)
            i += 1
        elif b in (0xC5, 0xDA):
            skip = _uint(mv, i, 2, n)
            i += 2
        elif b in (0xC6, 0xDB):
            skip = _uint(mv, i, 4, n)
            i += 4
        elif b in (0xC7, 0xC8, 0xC9):  # ext 8/16/32: length, type byte, data
            w = {0xC7: 1, 0xC8: 2, 0xC9: 4}[b]
            skip = _uint(mv, i, w, n) + 1
            i += w
        elif b in (0xCA, 0xCB, 0xCC, 0xCD, 0xCE, 0xCF, 0xD0, 0xD1, 0xD2, 0xD3):
            skip = {
                0xCA: 4,
                0xCB: 8,
                0xCC: 1,
                0xCD: 2,
                0xCE: 4,
                0xCF: 8,
                0xD0: 1,
                0xD1: 2,
                0xD2: 4,
                0xD3: 8,
            }[b]
        elif 0xD4 <= b <= 0xD8:  # fixext 1..16 + type byte
            skip = 1 + (1 << (b - 0xD4))
        elif b in (0xDC, 0xDE):
            children = _uint(mv, i, 2, n) * (2 if b == 0xDE else 1)
            i += 2
        elif b in (0xDD, 0xDF):
            children = _uint(mv, i, 4, n) * (2 if b == 0xDF else 1)
            i += 4
        else:
            raise WireError(f"not msgpack: type byte 0x{b:02x} at {i - 1}")
        i += skip
        if i > n:
            raise WireError(f"msgpack truncated: a value runs past the end ({i} > {n} bytes)")
        if children:
            if len(stack) + 1 > max_depth:
                raise LimitError(f"msgpack message nested deeper than {max_depth}")
            if elements + children > max_elements:
                # each child is one more object: refuse without walking them
                raise LimitError(f"msgpack message holds more than {max_elements} objects")
            stack.append(remaining_top)
            remaining_top = children
    if i != n:
        raise WireError(f"msgpack message has {n - i} trailing bytes")


def _uint(mv: memoryview, i: int, width: int, n: int) -> int:
    if i + width > n:
        raise WireError(f"msgpack truncated at byte {i} of {n}")
    return int(struct.unpack_from({1: ">B", 2: ">H", 4: ">I"}[width], mv, i)[0])


def raise_fd_limit() -> int:
    """Raise this process's open-file soft limit to its hard limit; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 65536 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft
