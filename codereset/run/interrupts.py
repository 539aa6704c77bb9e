"""Ctrl-C (SIGINT) and SIGTERM handling for the training loop.

Outside a protected section both signals raise KeyboardInterrupt at once (the trainer then saves a
checkpoint of the last finished step). Inside `protected()` — where the weights change and the
step's rows and checkpoint are written — the first signal is only recorded and raised when the
section ends, so a step is either fully committed or not at all; a second signal inside the
section raises immediately (the trainer then knows the step is half-committed and saves nothing).
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupts:
    """Installs the handlers (main thread only) and tracks whether a section was cut short."""

    def __init__(self) -> None:
        self.pending = False
        self.in_section = False
        self.broken_section = False
        self._previous: dict = {}

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _handle(self, signum: int, frame: object) -> None:
        if self.in_section and not self.pending:
            self.pending = True
            print("\ninterrupt received: finishing this step's update, rows and checkpoint "
                  "(interrupt again to stop at once)", file=sys.stderr, flush=True)
            return
        if self.in_section:
            self.broken_section = True
        raise KeyboardInterrupt

    @contextmanager
    def protected(self) -> Iterator[None]:
        self.in_section = True
        try:
            yield
        finally:
            self.in_section = False
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
