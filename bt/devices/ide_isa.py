"""IdeController: the PC's two IDE channels on the port bus, as QEMU 7.2 wires them.

Primary: task file 0x1F0-0x1F7, control 0x3F6, IRQ 14; secondary: 0x170-0x177, 0x376, IRQ 15
(hw/ide/piix.c for -M pc, hw/ide/isa.c for -M isapc: the same ports and lines). Both
channels exist on both machines whether or not disks are attached: a channel with no disk
reads 0 everywhere, as QEMU's does. Positions 0-3 are --hda, --hdb, --hdc, --hdd. A channel
with a disk starts as SeaBIOS's POST leaves it (bt/devices/ide_post.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bt.bus import Bus
from bt.devices.diskimage import DiskImage
from bt.devices.ide_channel import IdeChannel
from bt.devices.ide_post import after_seabios_post
from bt.devices.ide_state import IdeState, restore_channels, save_channels

CHANNELS = ((0x1F0, 0x3F6, 14), (0x170, 0x376, 15))  # (task file, control, ISA IRQ)


class _ControlPort:
    """A channel's control block: alternate status (read), device control (write)."""

    def __init__(self, channel: IdeChannel) -> None:
        self._channel = channel

    def read(self, offset: int, size: int) -> int:
        value = self._channel.read_alt_status()
        return value if size == 1 else value | 0xFF00  # QEMU's split: 0x3F7 is not the IDE's

    def write(self, offset: int, size: int, value: int) -> None:
        self._channel.write_control(value & 0xFF)


class IdeController:
    """Both channels; `irq(line)` gives the output for ISA line 14 or 15."""

    def __init__(
        self, images: Sequence[DiskImage | None], irq: Callable[[int], Callable[[int], None]]
    ) -> None:
        slots = [*images, None, None, None, None][:4]
        self.channels = tuple(
            IdeChannel(i, (slots[2 * i], slots[2 * i + 1]), irq(line))
            for i, (_, _, line) in enumerate(CHANNELS)
        )
        for channel in self.channels:
            if any(d.present for d in channel.drives):
                after_seabios_post(channel)  # the firmware ran before the guest (QEMU's too)

    def register(self, io: Bus) -> None:
        """Put both channels' ports on the bus."""
        for i, (base, ctrl, _) in enumerate(CHANNELS):
            io.register(base, 8, self.channels[i], f"ide{i}")
            io.register(ctrl, 1, _ControlPort(self.channels[i]), f"ide{i}-ctrl")

    def save(self) -> IdeState:
        """Both channels' state record (bt/devices/ide_state.py)."""
        return save_channels(self.channels)

    def restore(self, state: IdeState) -> None:
        """Take a record `save` returned."""
        restore_channels(self.channels, state)

    def sectors_moved(self) -> tuple[int, int]:
        """(sectors read, sectors written) through the controller, for --stats."""
        drives = [d for c in self.channels for d in c.drives]
        return sum(d.sectors_read for d in drives), sum(d.sectors_written for d in drives)
