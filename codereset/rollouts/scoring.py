"""Scoring rollouts while generation goes on (issue 12 item 4): verification off the critical path.

`OverlappedScorer(roller, verifier)`: `submit(rollout)` queues a finished rollout (`Roller.run`
calls it as each rollout ends; the HF backend reports rows while the others still decode). One
background thread scores whatever is queued in one batched `Roller.score` call (the sandbox pool
checks a batch in parallel), then takes the next batch. `wait()` blocks until every submitted
rollout is scored; only that wait adds to the step's wall time (`time_verify_s`), while `busy_s`
totals the seconds spent scoring. An exception raised while scoring is re-raised by `wait()`.
The verifier is used by this thread alone between the first `submit` and `wait()`.

Graph mode (sampling.batching=graph) shares ONE scorer among all prompts' calls of a step: each
call waits only for its own rollouts (`wait_for`), and rollouts that end together, whatever their
prompt, are scored in one batch (the sandbox pool checks a batch in parallel). Monte-Carlo value
estimates score on their own threads at the same time, so the buffer wraps the verifier in
`SerialVerifier`, which lets one `score_many` through at a time.
"""

from __future__ import annotations

import threading
import time
from typing import Any


class OverlappedScorer:
    """See the module docstring. Use as a context manager (the thread stops on exit)."""

    def __init__(self, roller: Any, verifier: Any) -> None:
        self.roller = roller
        self.verifier = verifier
        self.busy_s = 0.0
        self._cv = threading.Condition()
        self._queue: list[Any] = []
        self._pending = 0
        self._scored: set[int] = set()  # id() of every rollout scored (wait_for)
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="codereset-scorer", daemon=True)
        self._thread.start()

    def submit(self, rollout: Any) -> None:
        with self._cv:
            if self._closed:
                raise RuntimeError("OverlappedScorer.submit after close()")
            self._queue.append(rollout)
            self._pending += 1
            self._cv.notify_all()

    def wait(self) -> None:
        """Block until every submitted rollout has its outcome (re-raises a scoring error)."""
        with self._cv:
            while self._pending:
                self._cv.wait()
            error, self._error = self._error, None
        if error is not None:
            raise error

    def wait_for(self, rollouts: Any) -> None:
        """Block until each of `rollouts` (submitted ones) has its outcome; re-raises a scoring
        error (of any batch: the scorer is shared, so a failure stops every waiter)."""
        wanted = {id(r) for r in rollouts}
        with self._cv:
            while not wanted <= self._scored and self._error is None:
                self._cv.wait()
            error = self._error
        if error is not None:
            raise error

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
        self._thread.join()

    def __enter__(self) -> "OverlappedScorer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if not self._queue:
                    return
                batch, self._queue = self._queue, []
            started = time.perf_counter()
            error = None
            try:
                self.roller.score(self.verifier, batch)
            except BaseException as err:  # handed to wait()
                error = err
            with self._cv:
                self.busy_s += time.perf_counter() - started
                if error is not None and self._error is None:
                    self._error = error
                self._pending -= len(batch)
                if error is None:
                    self._scored.update(id(r) for r in batch)
                self._cv.notify_all()


class SerialVerifier:
    """A verifier shared by threads: `score_many` calls run one at a time (each batch is still
    checked in parallel by the sandbox pool); every other attribute is the wrapped verifier's."""

    def __init__(self, verifier: Any) -> None:
        self.verifier = verifier
        self._lock = threading.Lock()

    def score_many(self, items: Any) -> Any:
        with self._lock:
            return self.verifier.score_many(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.verifier, name)
