"""AtaDrive: one position of an IDE channel: its ATA register file and command engine.

QEMU 7.2 hw/ide/core.c (IDEState) for a hard disk, or for an empty position (no image: QEMU's
IDEState without a BlockBackend, which aborts every command). Commands complete at once: the
BSY phase a real disk (and QEMU's asynchronous block layer) shows is never seen, so a driver
polling BSY then DRQ sees DRQ at its first look. Where QEMU and ATA/ATAPI-6 differ, QEMU wins:

- A transfer past the end of the disk aborts (ERR with ABRT), it does not report IDNF; reads
  are checked before their data, writes after it (ide_sect_range_ok).
- RECALIBRATE is 0x10 alone (0x11-0x1F abort); SEEK and the power commands do nothing; READ
  VERIFY checks nothing. INITIALIZE DEVICE PARAMETERS (0x91) sets the CHS translation
  (heads from the device register, sectors per track from the count) that CHS addressing
  uses from then on, kept across resets unless SET FEATURES 0xCC asked to revert.
- EXECUTE DEVICE DIAGNOSTIC clears the whole device register (LBA and DEV too: measured).
- DMA commands (0xC8-0xCB, 0x25, 0x35) leave DRQ set for a bus master that never starts (no
  PIIX BMDMA here); SMART (0xB0) and DATA SET MANAGEMENT abort (QEMU answers SMART).

The channel (bt/devices/ide_channel.py) owns the register writes both positions receive, the
device control register and the interrupt line; this class is told of them.
"""

from __future__ import annotations

from collections.abc import Callable

from bt.devices.ata_identify import (
    MAX_MULT_SECTORS,
    WORD85_NO_WCACHE,
    WORD85_WCACHE,
    identify_words,
)
from bt.devices.diskgeometry import SECTOR_SIZE, Geometry
from bt.devices.diskimage import DiskImage

# Status register bits (ATA/ATAPI-6 7.15.6)
BSY, DRDY, DF, DSC, DRQ, ERR = 0x80, 0x40, 0x20, 0x10, 0x08, 0x01
ABRT = 0x04  # error register: command aborted
DEV_LBA, DEV_SELECT, DEV_ALWAYS_ON = 0x40, 0x10, 0xA0

# Where a finished DRQ block leads (QEMU's end_transfer_func).
END_DUMMY, END_STOP, END_READ, END_WRITE = "dummy", "stop", "read", "write"

NOP_COMMANDS = frozenset({0x10, 0x70, 0x94, 0x95, 0x96, 0x97, 0x99, 0xE0, 0xE1, 0xE2, 0xE3, 0xE6})
DMA_COMMANDS = frozenset({0x25, 0x35, 0xC8, 0xC9, 0xCA, 0xCB})
SET_DSC = frozenset({0x10, 0x27, 0x40, 0x41, 0x42, 0x70, 0x91, 0x98, 0xC6, 0xE5, 0xEF, 0xF5, 0xF8})
READS = frozenset({0x20, 0x21, 0x24, 0xC4, 0x29})
WRITES = frozenset({0x30, 0x31, 0x34, 0x3C, 0xC5, 0x39})
NEEDS_MEDIUM = READS | WRITES | DMA_COMMANDS | {0xEC, 0xEF, 0x27, 0xF8, 0x91}
SET_FEATURES_NOPS = frozenset({0xAA, 0x55, 0x05, 0x85, 0x69, 0x67, 0x96, 0x9A, 0x42, 0xC2})


class AtaDrive:
    """A hard disk (or nothing) at one position: unit 0 (master) or 1 (slave)."""

    def __init__(self, image: DiskImage | None, serial: str, raise_irq: Callable[[], None]) -> None:
        self.image = image
        self.present = image is not None
        self._raise_irq = raise_irq
        geometry = image.geometry if image is not None else Geometry(0, 0, 0)
        self.cylinders, self.heads, self.spt = geometry.cylinders, geometry.heads, geometry.sectors
        self.drive_heads, self.drive_spt = self.heads, self.spt
        self.reset_reverts = False  # SET FEATURES 0xCC: a reset restores the default CHS
        self.nb_sectors = image.sectors if image is not None else 0
        self.mult_sectors = MAX_MULT_SECTORS
        # Built as SeaBIOS's POST IDENTIFY left it (ata_identify.py: QEMU keeps the first).
        self.identify = identify_words(geometry, self.nb_sectors, serial, MAX_MULT_SECTORS)
        self.buffer = bytearray(SECTOR_SIZE * MAX_MULT_SECTORS)
        self.sectors_read = 0
        self.sectors_written = 0
        self.reset()

    # -- registers -------------------------------------------------------------------------

    def reset(self) -> None:
        """QEMU ide_reset: registers cleared, DRDY|DSC, the signature, no transfer."""
        if self.reset_reverts:
            self.reset_reverts = False
            self.heads, self.spt = self.drive_heads, self.drive_spt
        self.mult_sectors = MAX_MULT_SECTORS
        self.feature = self.error = self.nsector = self.sector = self.lcyl = self.hcyl = 0
        self.hob_feature = self.hob_nsector = self.hob_sector = self.hob_lcyl = self.hob_hcyl = 0
        self.select = DEV_ALWAYS_ON
        self.status = DRDY | DSC
        self.lba48 = False
        self.req_nb_sectors = 0
        self.set_signature()
        self.end = END_DUMMY
        self.data_ptr = self.data_end = 0
        self.buffer[0:4] = b"\xff\xff\xff\xff"

    def set_signature(self) -> None:
        """The ATA signature: count 1, sector 1, cylinder 0 (0xFFFF: no disk)."""
        self.select &= ~0x0F
        self.nsector = self.sector = 1
        self.lcyl = self.hcyl = 0 if self.present else 0xFF

    def get_sector(self) -> int:
        """The LBA the address registers name (LBA48, LBA28 or CHS); -1 for CHS sector 0."""
        if self.select & DEV_LBA:
            if self.lba48:
                return (
                    self.hob_hcyl << 40
                    | self.hob_lcyl << 32
                    | self.hob_sector << 24
                    | self.hcyl << 16
                    | self.lcyl << 8
                    | self.sector
                )
            return (self.select & 0x0F) << 24 | self.hcyl << 16 | self.lcyl << 8 | self.sector
        cyl = self.hcyl << 8 | self.lcyl
        return cyl * self.heads * self.spt + (self.select & 0x0F) * self.spt + self.sector - 1

    def set_sector(self, lba: int) -> None:
        """Write `lba` back into the address registers, as the last sector moved + 1."""
        if self.select & DEV_LBA:
            if self.lba48:
                self.sector, self.lcyl, self.hcyl = lba & 0xFF, lba >> 8 & 0xFF, lba >> 16 & 0xFF
                self.hob_sector = lba >> 24 & 0xFF
                self.hob_lcyl, self.hob_hcyl = lba >> 32 & 0xFF, lba >> 40 & 0xFF
            else:
                self.select = (self.select & ~0x0F) | (lba >> 24 & 0x0F)
                self.hcyl, self.lcyl, self.sector = lba >> 16 & 0xFF, lba >> 8 & 0xFF, lba & 0xFF
        else:
            per_cyl = self.heads * self.spt
            if per_cyl == 0:
                return  # INITIALIZE DEVICE PARAMETERS with 0 sectors per track (QEMU divides by 0)
            cyl, r = divmod(lba, per_cyl)
            self.hcyl, self.lcyl = cyl >> 8 & 0xFF, cyl & 0xFF
            self.select = (self.select & ~0x0F) | ((r // self.spt) & 0x0F)
            self.sector = (r % self.spt + 1) & 0xFF

    # -- transfers -------------------------------------------------------------------------

    def abort(self) -> None:
        """QEMU ide_abort_command: the transfer stopped, ERR with ABRT."""
        self.transfer_stop()
        self.status = DRDY | ERR
        self.error = ABRT

    def transfer_start(self, size: int, end: str) -> None:
        """A DRQ block of `size` bytes of the buffer, then `end`."""
        self.data_ptr, self.data_end = 0, size
        if not self.status & ERR:
            self.status |= DRQ
        self.end = end

    def transfer_stop(self) -> None:
        """No block in progress (QEMU ide_transfer_stop)."""
        self.end = END_STOP
        self.data_ptr = self.data_end = 0
        self.status &= ~DRQ

    def pio_out(self) -> bool:
        """Whether the block in progress goes from the device to the host."""
        return self.end != END_WRITE

    def block_done(self) -> None:
        """The host moved the last byte of the block: run what comes next."""
        self.status &= ~DRQ
        if self.end == END_READ:
            self.sector_read()
        elif self.end == END_WRITE:
            self.sector_write()
        elif self.end == END_STOP:
            self.transfer_stop()

    def _range_ok(self, lba: int, n: int) -> bool:
        return 0 <= lba <= self.nb_sectors and n <= self.nb_sectors - lba

    def _rw_error(self) -> None:
        self.abort()
        self._raise_irq()

    def sector_read(self) -> None:
        """QEMU ide_sector_read (and its completion): the next block into the buffer."""
        self.status = DRDY | DSC
        self.error = 0
        lba, n = self.get_sector(), min(self.nsector, self.req_nb_sectors)
        if n == 0:
            self.transfer_stop()
            return
        if not self._range_ok(lba, n):
            self._rw_error()
            return
        assert self.image is not None
        self.buffer[: n * SECTOR_SIZE] = self.image.read(lba, n)
        self.sectors_read += n
        self.set_sector(lba + n)
        self.nsector -= n
        self.transfer_start(n * SECTOR_SIZE, END_READ)
        self._raise_irq()

    def sector_write(self) -> None:
        """QEMU ide_sector_write (and its completion): the block just filled to the disk."""
        self.status = DRDY | DSC
        lba, n = self.get_sector(), min(self.nsector, self.req_nb_sectors)
        if not self._range_ok(lba, n):
            self._rw_error()
            return
        assert self.image is not None
        self.image.write(lba, bytes(self.buffer[: n * SECTOR_SIZE]))
        self.sectors_written += n
        self.nsector -= n
        self.set_sector(lba + n)
        if self.nsector == 0:
            self.transfer_stop()
        else:
            self.transfer_start(min(self.nsector, self.req_nb_sectors) * SECTOR_SIZE, END_WRITE)
        self._raise_irq()

    # -- commands --------------------------------------------------------------------------

    def _lba48_transform(self, lba48: bool) -> None:
        """QEMU ide_cmd_lba48_transform: a count of 0 means 256 (65536 for LBA48)."""
        self.lba48 = lba48
        if not lba48:
            self.nsector = self.nsector or 256
        else:
            self.nsector = (self.hob_nsector << 8 | self.nsector) or 65536

    def execute(self, cmd: int) -> None:
        """QEMU ide_exec_cmd for this position (the channel checked BSY/DRQ and the slave)."""
        self.status = DRDY | BSY
        self.error = 0
        if not self._run(cmd):
            return  # the command set status and its interrupt itself
        self.status &= ~BSY
        if cmd in SET_DSC and not self.error:
            self.status |= DSC
        self._raise_irq()

    def _run(self, cmd: int) -> bool:
        """One command; True when it completed here (QEMU: the handler's return value)."""
        if cmd in NOP_COMMANDS:
            return True
        if not self.present and cmd in NEEDS_MEDIUM:
            self.abort()  # QEMU: a position without a BlockBackend
            return True
        if cmd == 0xEC:
            self.status = DRDY | DSC
            self.buffer[:512] = b"".join(w.to_bytes(2, "little") for w in self.identify)
            self.transfer_start(512, END_STOP)
            self._raise_irq()
            return False
        if cmd in READS:
            if cmd in (0xC4, 0x29) and not self.mult_sectors:
                self.abort()
                return True
            self._lba48_transform(cmd in (0x24, 0x29))
            self.req_nb_sectors = self.mult_sectors if cmd in (0xC4, 0x29) else 1
            self.sector_read()
            return False
        if cmd in WRITES:
            multiple = cmd in (0xC5, 0x39)
            if multiple and not self.mult_sectors:
                self.abort()
                return True
            self._lba48_transform(cmd in (0x34, 0x39))
            self.req_nb_sectors = self.mult_sectors if multiple else 1
            self.status = DSC | DRDY
            self.transfer_start(min(self.nsector, self.req_nb_sectors) * SECTOR_SIZE, END_WRITE)
            return False
        if cmd in (0x40, 0x41, 0x42):
            self._lba48_transform(cmd == 0x42)
            return True
        if cmd == 0xC6:
            return self._set_multiple()
        if cmd == 0x91:
            self.heads, self.spt = (self.select & 0x0F) + 1, self.nsector & 0xFF
            self._raise_irq()
            return True
        if cmd == 0x90:
            self.diagnose()
            return False
        if cmd == 0xEF:
            return self._set_features()
        if cmd in (0x98, 0xE5):
            self.nsector = 0xFF  # active or idle
            return True
        if cmd in (0xE7, 0xEA):
            self.status = DRDY | DSC
            self._raise_irq()
            return False
        if cmd in (0x27, 0xF8):
            self._lba48_transform(cmd == 0x27)
            self.set_sector(self.nb_sectors - 1)
            return True
        if cmd == 0xF5:
            self.nsector = 0  # CFA WEAR LEVEL, taken by QEMU for SECURITY FREEZE LOCK
            return True
        if cmd in DMA_COMMANDS:
            self._lba48_transform(cmd in (0x25, 0x35))
            self.status = DRDY | DSC | DRQ
            return False
        self.abort()
        return True

    def _set_multiple(self) -> bool:
        n = self.nsector & 0xFF
        if n and (n > MAX_MULT_SECTORS or n & (n - 1)):
            self.abort()
        else:
            self.mult_sectors = n
        return True

    def _set_features(self) -> bool:
        feature = self.feature
        if feature == 0x02:
            self.identify[85] = WORD85_WCACHE
            return True
        if feature == 0x82:
            self.identify[85] = WORD85_NO_WCACHE
            self.status = DRDY | DSC  # the flush QEMU runs completes at once
            self._raise_irq()
            return False
        if feature in (0xCC, 0x66):
            self.reset_reverts = feature == 0xCC
            return True
        if feature in SET_FEATURES_NOPS:
            return True
        if feature == 0x03:  # set transfer mode: the mode's bit in words 62, 63 or 88
            mode, val = self.nsector >> 3, self.nsector & 7
            words = {0x00: (), 0x01: (), 0x02: (62,), 0x04: (63,), 0x08: (88,)}.get(mode)
            if words is not None:
                self.identify[62], self.identify[63], self.identify[88] = 0x07, 0x07, 0x3F
                for w in words:
                    self.identify[w] |= 1 << (val + 8)
                return True
        self.abort()
        return True

    def diagnose(self) -> None:
        """EXECUTE DEVICE DIAGNOSTIC (and the end of a soft reset): the signature, error 1."""
        self.set_signature()
        self.select = DEV_ALWAYS_ON
        self.status = DRDY | DSC
        self.error = 0x01  # device 0 passed, device 1 passed or absent
        self._raise_irq()
