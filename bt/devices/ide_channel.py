"""IdeChannel: one IDE channel (bus): its two positions, the task-file ports, device control.

QEMU 7.2 hw/ide/core.c ide_ioport_read/write, ide_status_read, ide_ctrl_write and the data
port's ide_data_readw/readl/writew/writel, with the port widths of hw/ide/ioport.c: the data
register (offset 0) takes 16- and 32-bit accesses, a byte read of it gives 0xFF; offsets 1-7
are byte registers (a word access reads two of them, QEMU's portio split). The control block
is one port: alternate status (reading it leaves the interrupt pending) and device control
(nIEN, SRST, HOB).

Both positions receive every task-file write, as on the cable; the DEV bit selects which one
answers. With no disk on the channel every register reads 0; an absent slave reads 0 for
status and error and ignores commands (QEMU). The interrupt output is a level: raised when a
command or DRQ block completes (unless nIEN), lowered by a status read or a command write.
A soft reset (SRST going to 1) resets both positions and runs the diagnostic at once: the BSY
phase QEMU schedules in a bottom half is not seen.
"""

from __future__ import annotations

from collections.abc import Callable

from bt.devices.ata_drive import BSY, DEV_ALWAYS_ON, DEV_SELECT, DRQ, AtaDrive
from bt.devices.ata_identify import serial_for
from bt.devices.diskimage import DiskImage

NIEN, SRST, HOB = 0x02, 0x04, 0x80  # device control bits


class IdeChannel:
    """Primary (channel 0) or secondary (1): task file at offsets 0-7, control at `ctrl_*`."""

    def __init__(
        self,
        channel: int,
        images: tuple[DiskImage | None, DiskImage | None],
        irq: Callable[[int], None],
    ) -> None:
        self._irq = irq
        self.drives = (
            AtaDrive(images[0], serial_for(2 * channel), self.raise_irq),
            AtaDrive(images[1], serial_for(2 * channel + 1), self.raise_irq),
        )
        self.unit = 0
        self.cmd = 0  # device control as last written
        self.irq_level = 0

    @property
    def active(self) -> AtaDrive:
        """The position the DEV bit selects."""
        return self.drives[self.unit]

    def _empty(self) -> bool:
        return not (self.drives[0].present or self.drives[1].present)

    def _absent_slave(self) -> bool:
        return self.unit == 1 and not self.drives[1].present

    # -- interrupt ---------------------------------------------------------------------------

    def raise_irq(self) -> None:
        """QEMU ide_set_irq: the line goes high unless nIEN."""
        if not self.cmd & NIEN:
            self._set_line(1)

    def _set_line(self, level: int) -> None:
        if level != self.irq_level:
            self.irq_level = level
            self._irq(level)

    # -- task file (offsets 0-7) ------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        """A read of the command block."""
        if offset == 0 and size in (2, 4):
            return self.read_data(size)
        if size == 1 or offset == 0:
            return self._read_reg(offset) if offset else 0xFF
        low = self._read_reg(offset)
        high = self._read_reg(offset + 1) if offset < 7 and size == 2 else 0xFF
        return low | high << 8 if size == 2 else 0xFFFFFFFF

    def _read_reg(self, reg: int) -> int:
        s = self.active
        hob = self.cmd & HOB
        if reg == 7 or reg == 1:
            if self._empty() or self._absent_slave():
                value = 0
            elif reg == 7:
                value = s.status
            else:
                value = s.hob_feature if hob else s.error
            if reg == 7:
                self._set_line(0)
            return value
        if self._empty():
            return 0
        if reg == 2:
            return s.hob_nsector if hob else s.nsector & 0xFF
        if reg == 3:
            return s.hob_sector if hob else s.sector
        if reg == 4:
            return s.hob_lcyl if hob else s.lcyl
        if reg == 5:
            return s.hob_hcyl if hob else s.hcyl
        return s.select

    def write(self, offset: int, size: int, value: int) -> None:
        """A write to the command block."""
        if offset == 0:
            if size in (2, 4):
                self.write_data(size, value)
            return
        if size == 4:
            return  # QEMU's portio has no dword handler there, nor a split for one
        for i in range(size):
            if offset + i <= 7:
                self._write_reg(offset + i, value >> (8 * i) & 0xFF)

    def _write_reg(self, reg: int, value: int) -> None:
        s = self.active
        if reg != 7 and s.status & (BSY | DRQ):
            return  # the task file is locked while a command runs
        self.cmd &= ~HOB  # any task-file write clears HOB
        if reg == 7:
            self._set_line(0)
            self._command(value)
            return
        for d in self.drives:
            if reg == 1:
                d.hob_feature, d.feature = d.feature, value
            elif reg == 2:
                d.hob_nsector, d.nsector = d.nsector, value
            elif reg == 3:
                d.hob_sector, d.sector = d.sector, value
            elif reg == 4:
                d.hob_lcyl, d.lcyl = d.lcyl, value
            elif reg == 5:
                d.hob_hcyl, d.hcyl = d.hcyl, value
            else:
                d.select = value | DEV_ALWAYS_ON
        if reg == 6:
            self.unit = 1 if value & DEV_SELECT else 0

    def _command(self, cmd: int) -> None:
        s = self.active
        if self._absent_slave():
            return  # QEMU ignores commands to a slave that is not there
        if s.status & (BSY | DRQ):
            return  # only DEVICE RESET to an ATAPI device is taken now
        s.execute(cmd)

    # -- data port ---------------------------------------------------------------------------

    def read_data(self, size: int) -> int:
        """A 16- or 32-bit read of the data register: the next bytes of the DRQ block."""
        s = self.active
        if not s.status & DRQ or not s.pio_out() or s.data_ptr + size > s.data_end:
            return 0
        p = s.data_ptr
        value = int.from_bytes(s.buffer[p : p + size], "little")
        s.data_ptr = p + size
        if s.data_ptr >= s.data_end:
            s.block_done()
        return value

    def write_data(self, size: int, value: int) -> None:
        """A 16- or 32-bit write of the data register: into the DRQ block."""
        s = self.active
        if not s.status & DRQ or s.pio_out() or s.data_ptr + size > s.data_end:
            return
        p = s.data_ptr
        s.buffer[p : p + size] = value.to_bytes(size, "little")
        s.data_ptr = p + size
        if s.data_ptr >= s.data_end:
            s.block_done()

    def read_string(self, offset: int, size: int, count: int) -> bytes:
        """Up to `count` items of `size` bytes from the DRQ block in progress, as that many
        data reads give them (REP INSW/INSD; never past the block's end, where the next
        block is made): what a block-move callout copies to guest memory in one go."""
        s = self.active
        if offset or size not in (2, 4) or not s.status & DRQ or not s.pio_out():
            return b""
        n = min(count, (s.data_end - s.data_ptr) // size)
        if n <= 0:
            return b""
        p = s.data_ptr
        data = bytes(s.buffer[p : p + n * size])
        s.data_ptr = p + n * size
        if s.data_ptr >= s.data_end:
            s.block_done()
        return data

    def write_string(self, offset: int, size: int, data: bytes) -> int:
        """Items of `size` bytes into the DRQ block (REP OUTSW/OUTSD); how many bytes were
        taken (never past the block's end)."""
        s = self.active
        if offset or size not in (2, 4) or not s.status & DRQ or s.pio_out():
            return 0
        n = min(len(data), (s.data_end - s.data_ptr) // size * size)
        if n <= 0:
            return 0
        p = s.data_ptr
        s.buffer[p : p + n] = data[:n]
        s.data_ptr = p + n
        if s.data_ptr >= s.data_end:
            s.block_done()
        return n

    # -- control block ----------------------------------------------------------------------

    def read_alt_status(self) -> int:
        """Alternate status: status without clearing the interrupt."""
        if self._empty() or self._absent_slave():
            return 0
        return self.active.status

    def write_control(self, value: int) -> None:
        """Device control; SRST going to 1 resets both positions (QEMU ide_bus_perform_srst)."""
        starting = not self.cmd & SRST and value & SRST
        self.cmd = value
        if starting:
            for d in self.drives:
                d.transfer_stop()
                d.reset()
                d.diagnose()
            self.cmd &= ~SRST  # QEMU's bottom half clears it when the reset is done
