"""AuxStub: the i8042's aux (PS/2 mouse) port, answering probes as QEMU's mouse does.

The aux device is a stub that answers like QEMU's PS/2 mouse to probing (0xFF -> 0xFA 0xAA
0x00, 0xF2 -> 0xFA 0x00, 0xE9 -> 0xFA, status 0, resolution, rate: measured 00 00 00 at entry,
2 and 100 after a reset; 0xE8/0xF3 take an argument, others 0xFA); it never reports movement.
"""

from __future__ import annotations

from collections import deque

from bt.devices.ps2keyboard import ACK, POR
from bt.devices.records import AuxState


class AuxStub:
    """Answers the aux (mouse) port's probing the way QEMU's PS/2 mouse does; never moves."""

    def __init__(self) -> None:
        self.replies: deque[int] = deque()
        self.write_cmd = -1
        self.resolution = 0  # measured at entry: 0xE9 answers 0xFA 00 00 00
        self.sample_rate = 0

    def command(self, value: int) -> None:
        pending, self.write_cmd = self.write_cmd, -1
        if pending == 0xE8:
            self.resolution = value
            self.replies.append(ACK)
        elif pending == 0xF3:
            self.sample_rate = value
            self.replies.append(ACK)
        elif value in (0xE8, 0xF3):
            self.write_cmd = value
            self.replies.append(ACK)
        elif value == 0xFF:
            self.resolution, self.sample_rate = 2, 100  # QEMU's mouse reset values
            self.replies += (ACK, POR, 0x00)
        elif value == 0xF2:
            self.replies += (ACK, 0x00)
        elif value == 0xE9:
            self.replies += (ACK, 0x00, self.resolution, self.sample_rate)
        else:
            self.replies.append(ACK)

    def save(self) -> AuxState:
        return AuxState(
            replies=bytes(self.replies),
            write_cmd=self.write_cmd,
            resolution=self.resolution,
            sample_rate=self.sample_rate,
        )

    def restore(self, st: AuxState) -> None:
        self.replies = deque(st.replies)
        self.write_cmd, self.resolution, self.sample_rate = (
            st.write_cmd,
            st.resolution,
            st.sample_rate,
        )
