"""Wall-clock time per phase of a training step (generate, verify, localize, train, ...).

A phase's seconds are the wall time during which it was open at least once: the union of its
intervals, not their sum. With one thread that is the plain sum of its `with` blocks; when
several threads run the same phase at once (sampling.batching=graph: every prompt's chain of
phases is its own task) overlapping intervals count once, so each phase stays a wall-clock share
of the step, and phases may overlap one another (their sum can exceed the step's wall time).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from typing import Iterator


class PhaseTimes:
    """Accumulates seconds per named phase: `with times.phase("generate"): ...` (thread-safe;
    see the module docstring); `add(name, seconds)` adds a measured duration (e.g. busy time)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self._lock = threading.Lock()
        self._open: dict[str, tuple[int, float]] = {}  # name -> (open blocks, since when)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        with self._lock:
            depth, since = self._open.get(name, (0, 0.0))
            self._open[name] = (depth + 1, time.perf_counter() if depth == 0 else since)
        try:
            yield
        finally:
            with self._lock:
                depth, since = self._open[name]
                if depth == 1:
                    del self._open[name]
                    self.seconds[name] += time.perf_counter() - since
                else:
                    self._open[name] = (depth - 1, since)

    def add(self, name: str, seconds: float) -> None:
        with self._lock:
            self.seconds[name] += seconds

    def get(self, name: str) -> float:
        return float(self.seconds.get(name, 0.0))

    def __getstate__(self) -> dict:  # gathered across ranks (codereset.run.distributed): no lock
        return {"seconds": dict(self.seconds)}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
        self.seconds.update(state["seconds"])
