"""PostCode: port 0x80, where firmware writes its POST codes; kept for --stats, invisible.

QEMU's pc machine claims the port as a delay port (hw/i386/pc.c ioport80): writes are dropped
and reads answer all ones, so the guest sees nothing of this device. bt keeps the count of
byte writes and the last KEEP of them, for --stats.
"""

from __future__ import annotations

from collections import deque

from bt.devices.records import PostCodeState
from bt.staterecord import check_record, require

POST_PORT = 0x80
KEEP = 64  # the codes --stats shows: the last ones, bounded


class PostCode:
    """The POST codes seen: their number and the last KEEP bytes."""

    def __init__(self) -> None:
        self.count = 0
        self._recent: deque[int] = deque(maxlen=KEEP)

    def read(self, offset: int, size: int) -> int:
        """All ones, as QEMU's ioport80_read."""
        return (1 << (8 * size)) - 1

    def write(self, offset: int, size: int, value: int) -> None:
        """Keep the low byte (a word or dword write shows its low byte on a POST card)."""
        self.count += 1
        self._recent.append(value & 0xFF)

    @property
    def last(self) -> int | None:
        """The latest code, None before any."""
        return self._recent[-1] if self._recent else None

    @property
    def recent(self) -> bytes:
        """The last KEEP codes (fewer before that many), oldest first."""
        return bytes(self._recent)

    def stat_line(self) -> str | None:
        """--stats: the last code and the sequence, None when the guest wrote none."""
        if not self.count:
            return None
        codes = " ".join(f"{c:02X}" for c in self._recent)
        more = f" (the last {KEEP})" if self.count > KEEP else ""
        last = self._recent[-1]
        return f"POST codes (port 0x80): {self.count}, last {last:02X}h; sequence{more}: {codes}"

    def save(self) -> PostCodeState:
        """The count and the kept codes."""
        return PostCodeState(self.count, self.recent)

    def restore(self, state: PostCodeState) -> None:
        """Take `state`'s codes."""
        state = check_record(state, PostCodeState, "postcode")
        require(len(state.recent) <= KEEP, "postcode", f"{len(state.recent)} codes kept")
        require(len(state.recent) <= state.count, "postcode", "more codes than writes")
        self.count = state.count
        self._recent = deque(state.recent, maxlen=KEEP)
