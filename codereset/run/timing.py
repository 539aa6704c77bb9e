"""Wall-clock time per phase of a training step (generate, verify, localize, train, ...)."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator


class PhaseTimes:
    """Accumulates seconds per named phase: `with times.phase("generate"): ...`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start

    def get(self, name: str) -> float:
        return float(self.seconds.get(name, 0.0))
