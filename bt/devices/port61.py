"""SpeakerPort: port 0x61 as QEMU 7.2's PC speaker (hw/audio/pcspk.c) answers it.

Reads: bit 0 channel-2 gate, bit 1 speaker data enable, bit 4 a refresh bit that toggles on
every read (first read 1), bit 5 channel 2's OUT. Writes set the gate (bit 0) and data enable
(bit 1); other bits are dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bt.devices.records import SpeakerState
from bt.staterecord import check_record, require, require_range

if TYPE_CHECKING:
    from bt.devices.pit8254 import Pit8254


class SpeakerPort:
    """Port 0x61 as QEMU's PC speaker answers it: channel 2's gate and OUT, a refresh toggle."""

    def __init__(self, pit: Pit8254) -> None:
        self._pit = pit
        self.data_on = 0
        self._refresh = 0

    def read(self, offset: int, size: int) -> int:
        """Read `size` bytes; only offset 0 is the port, the rest read 0xFF."""
        value = 0
        for i in range(size):
            byte = 0xFF
            if offset + i == 0:
                self._refresh ^= 0x10
                byte = self._pit.gate(2) | (self.data_on << 1) | self._refresh
                byte |= self._pit.out(2) << 5
            value |= byte << (8 * i)
        return value

    def write(self, offset: int, size: int, value: int) -> None:
        """Bit 0: channel-2 gate; bit 1: speaker data enable."""
        if offset == 0:
            self.data_on = (value >> 1) & 1
            self._pit.set_gate(2, value & 1)

    def check(self, state: SpeakerState) -> SpeakerState:
        """`state` if port 0x61 can restore it, else StateError (nothing is changed)."""
        state = check_record(state, SpeakerState, "port61")
        require_range("port61", state, "data_on", 0, 1)
        require(state.refresh in (0, 0x10), "port61", f"refresh = {state.refresh:#x}")
        return state

    def save(self) -> SpeakerState:
        """Port 0x61's own bits (channel 2's gate and OUT are the PIT's)."""
        return SpeakerState(data_on=self.data_on, refresh=self._refresh)

    def restore(self, state: SpeakerState) -> None:
        """Take the state `save` returned."""
        state = self.check(state)
        self.data_on, self._refresh = state.data_on, state.refresh
