"""ExitPort: QEMU's isa-debug-exit; a write of V asks to end the run with status (V << 1) | 1."""

from __future__ import annotations


class ExitPort:
    """QEMU exits the process with (V << 1) | 1; the operating system keeps its low 8 bits."""

    def __init__(self) -> None:
        self.exit_status: int | None = None

    def read(self, offset: int, size: int) -> int:
        """QEMU's read handler answers 0."""
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Record the exit request."""
        self.exit_status = ((value << 1) | 1) & 0xFF
