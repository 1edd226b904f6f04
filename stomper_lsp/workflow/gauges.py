"""Concurrency gauges: the proof that fan-out and the merge lock do what they claim."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class ConcurrencyGauge:
    def __init__(self) -> None:
        self.current = 0
        self.peak = 0

    @contextmanager
    def track(self) -> Iterator[None]:
        self.current += 1
        self.peak = max(self.peak, self.current)
        try:
            yield
        finally:
            self.current -= 1
