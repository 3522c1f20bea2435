"""Bounded, newest-wins hand-over points between asyncio tasks.

- :class:`FrameSlot`: one slot between a source and its inference worker. A
  frame put while the previous one is still waiting replaces it (the old one
  is counted as dropped): when the model is slower than the camera, the newest
  frame wins and latency stays bounded.
- :class:`LatestQueue`: a subscriber's outbox. At most one pending message
  per key (stream id): a newer overlay of the same stream replaces the waiting
  one, so a slow or stuck client costs the publisher nothing and, when it
  reads again, gets the newest state, never a backlog. Keys are kept in
  arrival order; control replies (pong, errors) use unique keys and are
  bounded by ``max_keys``.

Both are used only from the event loop's thread (no locks needed).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from typing import Generic, TypeVar

T = TypeVar("T")


class FrameSlot(Generic[T]):
    """A single-item mailbox where ``put`` never blocks and the newest item wins."""

    def __init__(self) -> None:
        self._item: T | None = None
        self._event = asyncio.Event()
        self.dropped = 0
        self.closed = False

    def put(self, item: T) -> bool:
        """Store ``item``; returns True when it replaced one not yet taken (a drop)."""
        replaced = self._item is not None
        if replaced:
            self.dropped += 1
        self._item = item
        self._event.set()
        return replaced

    def close(self) -> None:
        self.closed = True
        self._event.set()

    async def get(self) -> T | None:
        """Wait for the next item; None once closed and empty."""
        while self._item is None:
            if self.closed:
                return None
            self._event.clear()
            await self._event.wait()
        item, self._item = self._item, None
        return item

    @property
    def pending(self) -> bool:
        return self._item is not None


class LatestQueue(Generic[T]):
    """A keyed outbox: one pending message per key, at most ``max_keys`` keys.

    ``put`` never blocks. Returns the number of messages dropped by the put
    (0 or 1): a replaced message of the same key, or the oldest message when
    the key limit is reached.
    """

    def __init__(self, max_keys: int = 16) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, got {max_keys}")
        self.max_keys = max_keys
        self._items: OrderedDict[object, T] = OrderedDict()
        self._event = asyncio.Event()
        self._unique = itertools.count()
        self.dropped = 0
        self.closed = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T, key: object | None = None) -> int:
        """Queue ``item`` under ``key`` (None = a unique key); newest of a key wins."""
        if self.closed:
            return 0
        if key is None:
            key = ("_unique", next(self._unique))
        dropped = 0
        if key in self._items:
            del self._items[key]
            dropped = 1
        elif len(self._items) >= self.max_keys:
            self._items.popitem(last=False)
            dropped = 1
        self._items[key] = item
        self.dropped += dropped
        self._event.set()
        return dropped

    def close(self) -> None:
        self.closed = True
        self._event.set()

    async def get(self) -> T | None:
        """Wait for the oldest pending message; None once closed."""
        while not self._items:
            if self.closed:
                return None
            self._event.clear()
            await self._event.wait()
        if self.closed:
            return None
        _, item = self._items.popitem(last=False)
        return item
