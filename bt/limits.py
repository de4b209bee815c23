"""Limits: --timeout and SIGINT/SIGTERM, enforced on every path that can run for long.

(--max-insns needs nothing here: bt/insncount.py counts exactly and stops at the count.)

The monitor checks them wherever Python runs while the guest does: at every callout, every
translation, every halt wait and every turn of the run loop. Translated code that runs without
entering the monitor is reached by a watchdog thread, which at the deadline or on a signal trips
the backstop (bt/backstop.py): the native block hook then stops the CPU, on its own thread, at the
next block start, where the run loop sees the limit. Nothing is stopped from another thread
(DESIGN.md fact 12), so a run ended by a limit still reports a precise guest EIP.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time
from types import FrameType

from bt.backstop import Backstop
from bt.errors import BtError
from bt.runresult import EXIT_LIMIT, EXIT_SIGNAL_BASE

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_TRIP_EVERY = 0.001  # seconds between backstop trips until the run loop notices


class LimitReached(BtError):
    """Raised on a path deep inside the monitor (a translation) when a limit is reached; the
    run loop turns it into its RunResult."""


class Limits:
    """The time limit and the stop signals of one run."""

    def __init__(self, backstop: Backstop) -> None:
        self.backstop = backstop
        self.timeout: float | None = None
        self._deadline: float | None = None
        self.signal: int | None = None  # the signal that asked the run to end
        self._done = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._saved: dict[int, object] = {}
        self._pipe: tuple[int, int] | None = None
        self._old_fd = -1

    # -- a run ---
    def start(self, timeout: float | None) -> None:
        """Arm the limits for a run (signals are caught only from the main thread)."""
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout if timeout is not None else None
        self.signal = None
        self._done.clear()
        if threading.current_thread() is threading.main_thread():
            self._catch_signals()
        if self._deadline is not None or self._pipe is not None:
            self._watchdog = threading.Thread(target=self._watch, name="bt-limits", daemon=True)
            self._watchdog.start()

    def finish(self) -> None:
        """Disarm: the watchdog ends, the previous signal handlers are back."""
        self._done.set()
        if self._watchdog is not None:
            if self._pipe is not None:
                with contextlib.suppress(OSError):
                    os.write(self._pipe[1], b"\0")
            self._watchdog.join()
            self._watchdog = None
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._saved.clear()
        if self._pipe is not None:
            signal.set_wakeup_fd(self._old_fd)
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None

    def _catch_signals(self) -> None:
        for signum in _SIGNALS:
            self._saved[signum] = signal.signal(signum, self._on_signal)
        r, w = os.pipe()
        os.set_blocking(w, False)
        self._pipe = (r, w)
        # The C-level handler writes the signal's number here even while the main thread is
        # inside emu_start and cannot run Python: the watchdog wakes and trips the backstop.
        self._old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signum
        self.backstop.trip()

    def _watch(self) -> None:
        while not self._done.is_set():
            if self.signal is not None or self._expired():
                break
            wait = None if self._deadline is None else max(0.0, self._deadline - time.monotonic())
            if self._pipe is None:
                self._done.wait(wait)
                continue
            ready, _, _ = select.select([self._pipe[0]], [], [], wait)
            if ready:
                with contextlib.suppress(OSError):
                    got = os.read(self._pipe[0], 64)
                    # The bytes are signal numbers (0: finish() waking us up).
                    hit = [n for n in got if n in _SIGNALS]
                    if hit and self.signal is None:
                        self.signal = hit[0]
        # Keep tripping: a native decrement racing with this write may undo it once.
        while not self._done.wait(_TRIP_EVERY):
            self.backstop.trip()

    # -- checks ---
    def _expired(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def reached(self) -> str | None:
        """Why the run must end now (the one-line reason), or None."""
        if self.signal is not None:
            return f"stopped by {signal.Signals(self.signal).name}"
        if self._expired():
            return f"time limit reached ({self.timeout:g} s)"
        return None

    def check(self) -> None:
        """Raise LimitReached if the run must end now."""
        why = self.reached()
        if why is not None:
            raise LimitReached(why)

    def status(self) -> int:
        """The process status for a run the limits ended: 128 + signal, or EXIT_LIMIT."""
        return EXIT_SIGNAL_BASE + self.signal if self.signal is not None else EXIT_LIMIT

    def kind(self) -> str:
        """RunResult.kind for a run the limits ended."""
        return "signal" if self.signal is not None else "limit"
