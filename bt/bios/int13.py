"""Int13: the INT 13h disk service over a table of drives, as SeaBIOS 1.16's src/disk.c does it.

Drives are numbered as SeaBIOS maps them: floppies 0x00, 0x01 in the order found, hard disks
0x80, 0x81... (a lone -fdb or -hdb is the first of its kind). handle_legacy_disk() finds the
drive (none: DISK_RET_EPARAM); floppy_13() lets a floppy have only AH 00-05, 08, 15h, 16h;
disk_13() dispatches. Every return goes through disk_ret(): the status in AH (CF set when not
zero) and in the BDA's last-status byte of the drive's kind (0x441 floppy, 0x474 hard disk;
chosen by DL as it is when disk_ret runs). disk_13 clears the BDA's disk interrupt flag
(0x48E) first.

A function SeaBIOS does not implement (disk_13XX) returns EPARAM the same way (AH=01h, CF),
and is counted in statistics().unknown: the guest sees what it sees under SeaBIOS, and the
monitor can name it. Floppy format (AH=05h on a floppy) is not implemented here: Unsupported.

Wiring: Int13(drives, diskette_table, dpte) is the Service of vector 0x13 (and of 0x40, the
vector SeaBIOS's handle_40 serves the same way). `diskette_table` is the far pointer of the
11-byte diskette parameter table in the BIOS ROM (the INT 1Eh vector's, SeaBIOS's
diskette_param_table2) that AH=08h returns in ES:DI; `dpte` the far pointer of 16 bytes of
BIOS RAM where AH=48h writes the DPTE (SeaBIOS's DefaultDPTE in its low segment).
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

from bt.bios.api import BiosCall, BiosCpu, Outcome, ServiceResult, Unsupported
from bt.bios.biosdrive import BiosDrive
from bt.bios.diskstatus import (
    BDA_DISK_INTERRUPT_FLAG,
    BDA_DISK_LAST_STATUS,
    BDA_FLOPPY_LAST_STATUS,
    ECHANGED,
    ENOTREMOVABLE,
    EPARAM,
    FIRST_CD,
    FIRST_HD,
    SUCCESS,
)
from bt.bios.disktransfer import READ, SEEK, VERIFY, WRITE, DiskOp, disk_op
from bt.bios.edd import FarPtr, fill_edd
from bt.bios.floppyctl import FloppyController

FLOPPY_FUNCTIONS = frozenset({0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x15, 0x16})
STUBS = frozenset({0x09, 0x0C, 0x0D, 0x10, 0x11, 0x14, 0x45, 0x49})  # success on a hard disk
BASIC = {0x02: READ, 0x03: WRITE, 0x04: VERIFY}
EXTENDED = {0x42: READ, 0x43: WRITE, 0x44: VERIFY, 0x47: SEEK}
MAX_BASIC_COUNT = 128


@dataclass(frozen=True, slots=True)
class Int13Stats:
    """What the service did: calls by AH, sectors moved, calls of functions SeaBIOS lacks."""

    calls: dict[int, int]
    sectors_read: int
    sectors_written: int
    unknown: dict[int, int]


class Int13:
    """The INT 13h service (bt.bios.api.Service)."""

    def __init__(
        self, drives: Mapping[int, BiosDrive], diskette_table: FarPtr, dpte: FarPtr
    ) -> None:
        self.drives = dict(drives)
        self.diskette_table = diskette_table
        self.dpte = dpte
        self._calls: Counter[int] = Counter()
        self._unknown: Counter[int] = Counter()
        self._read = self._written = 0
        self.fdc = FloppyController()

    def statistics(self) -> Int13Stats:
        """Counts since the service was made."""
        return Int13Stats(dict(self._calls), self._read, self._written, dict(self._unknown))

    def __call__(self, call: BiosCall) -> ServiceResult:
        cpu = call.cpu
        ah, dl = cpu.reg("ah"), cpu.reg("dl")
        self._calls[ah] += 1
        drive = self.drives.get(dl) if dl < FIRST_CD else None
        if drive is None:
            return self._ret(call, EPARAM)  # handle_legacy_disk: fail
        if dl < FIRST_HD and ah not in FLOPPY_FUNCTIONS:
            return self._unknown_function(call, ah)
        call.mem.write_phys(BDA_DISK_INTERRUPT_FLAG, b"\x00")
        if ah == 0x00:  # disk_1300: the drivers' reset always succeeds here
            if dl < FIRST_HD:
                self.fdc.reset()
            return self._ret(call, SUCCESS)
        if ah == 0x01:
            return self._last_status(call)
        if ah in BASIC:
            return self._basic(call, drive, BASIC[ah])
        if ah == 0x05:
            return self._format(call, drive)
        if ah == 0x08:
            return self._parameters(call, drive)
        if ah == 0x15:
            return self._drive_type(call, drive)
        if ah == 0x16:  # disk_1316
            return self._ret(call, ECHANGED if dl < FIRST_HD else EPARAM)
        if ah in STUBS:
            return self._ret(call, SUCCESS)
        if ah == 0x41:  # disk_1341: EDD 3.0, extended access, EDD, removable support
            cpu.set_reg("bx", 0xAA55)
            cpu.set_reg("cx", 0x0007)
            self._ret(call, SUCCESS)
            cpu.set_reg("ah", 0x30)
            return Outcome.DONE
        if ah in EXTENDED:
            return self._extended(call, drive, EXTENDED[ah])
        if ah == 0x46:  # disk_1346: a fixed disk cannot be ejected
            return self._ret(call, ENOTREMOVABLE)
        if ah == 0x48:  # disk_1348
            buf = self._flat(cpu, "ds", cpu.reg("si"))
            return self._ret(call, fill_edd(call.mem, buf, drive.disk(), drive.unit, self.dpte))
        if ah == 0x4E:  # disk_134e: set hardware configuration
            return self._ret(call, SUCCESS if cpu.reg("al") in (1, 3, 4, 6) else EPARAM)
        return self._unknown_function(call, ah)

    @staticmethod
    def _flat(cpu: BiosCpu, seg: str, offset: int) -> int:
        # SeaBIOS MAKE_FLATPTR(seg, off): seg * 16 + off, the buffer contiguous from there
        return (cpu.seg(seg) << 4) + offset

    def _ret(self, call: BiosCall, status: int) -> ServiceResult:
        """SeaBIOS __disk_ret: AH and CF, and the BDA's last status of the drive's kind."""
        cpu = call.cpu
        where = BDA_FLOPPY_LAST_STATUS if cpu.reg("dl") < FIRST_HD else BDA_DISK_LAST_STATUS
        call.mem.write_phys(where, bytes([status]))
        cpu.set_reg("ah", status)
        cpu.set_flag("cf", status != SUCCESS)
        return Outcome.DONE

    def _unknown_function(self, call: BiosCall, ah: int) -> ServiceResult:
        self._unknown[ah] += 1
        return self._ret(call, EPARAM)

    def _last_status(self, call: BiosCall) -> ServiceResult:
        """disk_1301: AH and CF from the BDA's byte, which stays as it was."""
        cpu = call.cpu
        where = BDA_FLOPPY_LAST_STATUS if cpu.reg("dl") < FIRST_HD else BDA_DISK_LAST_STATUS
        status = call.mem.read_phys(where, 1)[0]
        cpu.set_reg("ah", status)
        cpu.set_flag("cf", status != 0)
        return Outcome.DONE

    def _basic(self, call: BiosCall, drive: BiosDrive, command: str) -> ServiceResult:
        """basic_access: C/H/S from CX and DH, AL sectors, buffer ES:BX; AL = sectors done."""
        cpu = call.cpu
        count = cpu.reg("al")
        cl = cpu.reg("cl")
        cylinder = cpu.reg("ch") | (cl << 2) & 0x300
        sector, head = cl & 0x3F, cpu.reg("dh")
        lchs = drive.bios_geometry
        if count > MAX_BASIC_COUNT or count == 0 or sector == 0:
            return self._ret(call, EPARAM)
        if cylinder >= lchs.cylinders or head >= lchs.heads or sector > lchs.sectors:
            return self._ret(call, EPARAM)
        lba = lchs.to_lba(cylinder, head, sector)
        addr = self._flat(cpu, "es", cpu.reg("bx"))
        done = disk_op(drive, DiskOp(command, lba, count, addr), call.mem, self.fdc)
        self._count(command, done.count)
        cpu.set_reg("al", done.count)
        return self._ret(call, done.status)

    def _extended(self, call: BiosCall, drive: BiosDrive, command: str) -> ServiceResult:
        """extended_access: the disk address packet at DS:SI (count at +2, buffer segment:offset
        at +4, LBA at +8); the count field is rewritten with the sectors done."""
        cpu, mem = call.cpu, call.mem
        dap = self._flat(cpu, "ds", cpu.reg("si"))
        count, offset, segment, lba = struct.unpack("<HHHQ", mem.read_phys(dap + 2, 14))
        if lba >= drive.disk().sectors:
            return self._ret(call, EPARAM)
        if count == 0:
            return self._ret(call, SUCCESS)
        op = DiskOp(command, lba, count, (segment << 4) + offset)
        done = disk_op(drive, op, mem, self.fdc)
        self._count(command, done.count)
        mem.write_phys(dap + 2, struct.pack("<H", done.count))
        return self._ret(call, done.status)

    def _count(self, command: str, sectors: int) -> None:
        if command == READ:
            self._read += sectors
        elif command == WRITE:
            self._written += sectors

    def _format(self, call: BiosCall, drive: BiosDrive) -> ServiceResult:
        """disk_1305 on a hard disk: checks, then the ATA driver's no-op success."""
        cpu = call.cpu
        if cpu.reg("dl") < FIRST_HD:
            return Unsupported(0x13, 0x05, "INT 13h AH=05h (format a diskette track)")
        lchs = drive.disk().bios_geometry
        count = cpu.reg("al")
        if cpu.reg("ch") >= lchs.cylinders or cpu.reg("dh") >= lchs.heads:
            return self._ret(call, EPARAM)
        if count == 0 or count > lchs.sectors:
            return self._ret(call, EPARAM)
        return self._ret(call, SUCCESS)

    def _parameters(self, call: BiosCall, drive: BiosDrive) -> ServiceResult:
        """disk_1308: the last cylinder, head and sector of the logical geometry and the number
        of drives of the kind; a floppy's CMOS type in BX and ES:DI -> the diskette table; a
        hard disk's last cylinder is kept back (SeaBIOS: "last sector reserved")."""
        cpu = call.cpu
        lchs = drive.bios_geometry
        last_cyl, last_head = lchs.cylinders - 1, lchs.heads - 1
        if cpu.reg("dl") < FIRST_HD:
            count = sum(1 for n in self.drives if n < FIRST_HD)
            cpu.set_reg("bx", drive.cmos_type)
            cpu.set_seg("es", self.diskette_table.segment)
            cpu.set_reg("di", self.diskette_table.offset)
        else:
            count = sum(1 for n in self.drives if FIRST_HD <= n < FIRST_CD)
            last_cyl -= 1
        last_cyl &= 0xFFFF  # u16 in SeaBIOS
        cpu.set_reg("al", 0)
        cpu.set_reg("ch", last_cyl & 0xFF)
        cpu.set_reg("cl", (last_cyl >> 2) & 0xC0 | lchs.sectors & 0x3F)
        cpu.set_reg("dh", last_head & 0xFF)
        self._ret(call, SUCCESS)
        cpu.set_reg("dl", count)
        return Outcome.DONE

    def _drive_type(self, call: BiosCall, drive: BiosDrive) -> ServiceResult:
        """disk_1315: AH=01h for a floppy; a hard disk: AH=03h and CX:DX the sectors of the
        logical geometry less its last cylinder."""
        cpu = call.cpu
        self._ret(call, SUCCESS)
        if cpu.reg("dl") < FIRST_HD:
            cpu.set_reg("ah", 1)
            return Outcome.DONE
        lchs = drive.disk().bios_geometry
        sectors = ((lchs.cylinders - 1) * lchs.heads * lchs.sectors) & 0xFFFFFFFF
        cpu.set_reg("cx", sectors >> 16)
        cpu.set_reg("dx", sectors & 0xFFFF)
        cpu.set_reg("ah", 3)
        return Outcome.DONE
