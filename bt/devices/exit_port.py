"""ExitPort: QEMU's isa-debug-exit; a write of V asks to end the run with status (V << 1) | 1."""

from __future__ import annotations

from bt.devices.records import ExitPortState
from bt.staterecord import check_record, require

STATUS_MASK = 0xFF  # exit(2) keeps the low 8 bits of the status for the parent to see


class ExitPort:
    """isa-debug-exit (QEMU: -device isa-debug-exit,iobase=0xf4,iosize=4).

    QEMU computes (V << 1) | 1 from the whole value written (8, 16 or 32 bits, whatever the
    offset) and exits with it; the operating system keeps its low 8 bits. So the status the
    user sees is odd and ((V << 1) | 1) & 0xFF: V=0 gives 1, V=0x7F gives 255, V=0x80 gives 1,
    a 16-bit write of 0x0180 gives 1 (measured under qemu-system-i386 7.2). A guest can never
    make QEMU exit with an even status, 0 included.
    """

    def __init__(self) -> None:
        self.requested_status: int | None = None
        """(V << 1) | 1 of the last write, untruncated, as QEMU passes it to exit()."""

    @property
    def exit_status(self) -> int | None:
        """The process exit status the user sees (8 bits), or None before any write."""
        if self.requested_status is None:
            return None
        return self.requested_status & STATUS_MASK

    def read(self, offset: int, size: int) -> int:
        """QEMU's read handler answers 0 (the only way a guest can probe for the device)."""
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Record the exit request; the run loop ends the run after this instruction."""
        self.requested_status = (value << 1) | 1

    def save(self) -> ExitPortState:
        """The status of the last write."""
        return ExitPortState(requested_status=self.requested_status)

    def restore(self, state: ExitPortState) -> None:
        """Take the state `save` returned."""
        state = check_record(state, ExitPortState, "isa-debug-exit")
        status = state.requested_status
        require(
            status is None or (status >= 1 and status & 1 == 1),
            "isa-debug-exit",
            f"requested status {status!r} is not (V << 1) | 1",
        )
        self.requested_status = status
