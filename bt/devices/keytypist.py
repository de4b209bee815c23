"""KeyTypist: `--keys FILE` typed as a person types it, one key at a time, when the guest is ready.

A key arrives only when the guest can take it (the machine's `ready`: the i8042's output
buffer read, IRQ 1 unmasked at the PIC, and with the built-in BIOS its keyboard buffer
drained) and no sooner than PACE_NS of guest time after the previous one. Keys queued all at
time zero would sit in the controller before a kernel or BIOS programmed its PIC, and the
interrupt for the first one would be lost with it. A timer device (bt/timebase.py): a guest
that halts waiting for the key is woken by it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from bt.devices.ps2keyboard import text_to_set1

PACE_NS = 40_000_000  # 25 keys a second at the most: a fast typist
RETRY_NS = 10_000_000  # how often a key that found the guest busy tries again


class KeyTypist:
    """Keys waiting to be typed, and when the next one may come."""

    def __init__(
        self, text: str, feed: Callable[[bytes], None], ready: Callable[[], bool], start_ns: int
    ) -> None:
        self._keys = deque(text_to_set1(ch) for ch in text)  # raises BadInput for a bad one
        self._feed = feed
        self._ready = ready
        self._next = start_ns + PACE_NS
        self.typed = 0

    @property
    def waiting(self) -> int:
        """Keys not typed yet."""
        return len(self._keys)

    def next_deadline_ns(self) -> int | None:
        """When the next key may arrive (None: all typed)."""
        return self._next if self._keys else None

    def tick(self, now_ns: int) -> None:
        """Type the next key if its time has come and the guest is ready for it."""
        if not self._keys or now_ns < self._next:
            return
        if self._ready():
            self._feed(self._keys.popleft())
            self.typed += 1
            self._next = now_ns + PACE_NS
        else:
            self._next = now_ns + RETRY_NS
