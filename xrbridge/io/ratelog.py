"""Log lines that cannot flood: one per key per interval, with the count of the ones skipped.

Handled errors (a client's bad message, a record not written, a source down)
are each logged, but an attacker or a dead disk must not fill the log: the
first of a kind is written, the next ones within ``every_s`` are counted and
reported with the next line of that kind.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RateLimitedLog:
    """``warning`` at most once per ``every_s`` per key; the skipped ones are counted in the next."""

    def __init__(
        self,
        logger: logging.Logger,
        every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger, self.every_s, self.clock = logger, every_s, clock
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def warning(self, key: str, msg: str) -> bool:
        now = self.clock()
        if now - self._last.get(key, -1e18) < self.every_s:
            self._skipped[key] = self._skipped.get(key, 0) + 1
            return False
        skipped = self._skipped.pop(key, 0)
        self._last[key] = now
        self.logger.warning(
            "%s%s", msg, f" ({skipped} more since the last message)" if skipped else ""
        )
        return True
