"""POST: the machine state the built-in BIOS leaves for a boot sector, as SeaBIOS leaves it.

Measured under QEMU 7.2 / SeaBIOS 1.16.2 with a boot sector that dumps its registers, the IVT,
the BDA and the EBDA at entry (-fda and -hda, -m 2 to 3584):

- Registers: CS:IP 0000:7C00, AX 0xAA55 (SeaBIOS's call_boot_entry), DL the boot drive, all
  other general registers 0, SS:SP 0000:6F04, DS = ES = FS = GS = 0, EFLAGS 0x202, CR0 0x10.
- IVT: bt/bios/rom.py's template (SeaBIOS's layout, entries in this ROM).
- BDA: COM and LPT base addresses; equipment 0x4227 for a floppy drive, FPU, PS/2 mouse,
  80x25 colour, one COM and one LPT port; 639 KiB at 0x413; EBDA segment 0x9FC0 at 0x40E;
  keyboard buffer 0x1E-0x3E with head = tail = 0x1E and kbd_flag2 0x10 (101-key keyboard);
  video mode 3, 80 columns, 25 rows, page size 0x1000, cursor type 0x0607, CRTC 0x3D4,
  char height 16, video_ctl 0x60, switches 0xF9, modeset 0x51, DCC index 8 (SeaVGABIOS's);
  the tick count from the RTC's time of day (SeaBIOS's clock_setup); hard disk count at 0x475
  and the disk control byte 0xC0 at 0x476; LPT timeouts 0x14 and COM timeouts 0x0A per port;
  floppy drive info 0x07 at 0x48F when there is a drive.
- EBDA: 1 KiB at 0x9FC00, its first byte the size in KiB (1), the rest 0 but the parameter
  tables of the first two hard disks at 0x3D and 0x4D (INT 41h and 46h point there).
- PICs: ICW1 0x11, vector bases 0x08 and 0x70, cascade on IRQ 2, 8086 mode, masks 0xB8 and 0x8E
  (IRQ 0, 1, 2, 6, 8, 12, 13, 14 open: those SeaBIOS installs handlers for); ELCR 0x00/0x0C.
- PIT channel 0: mode 2, lobyte/hibyte, count 0 (65536: 18.2 Hz). RTC: A 0x26, B 0x02.
- A20 on (port 0x92 = 0x02). The screen: SeaBIOS's and iPXE's banners and "Booting from
  Floppy..." / "Booting from Hard Disk...", the cursor on the next row (optional).
"""

from __future__ import annotations

from dataclasses import dataclass

from bt.bios import bda
from bt.bios.api import PhysMemory, Ports
from bt.bios.clock import rtc_read, rtc_setup
from bt.bios.rom import load
from bt.bios.video import BLANK, COLOR_TEXT, COLS, DEFAULT_CURSOR, PAGE_SIZE
from bt.devices.cmos_layout import HOURS, MINUTES, SECONDS
from bt.devices.vga import BOOT_CRTC, BOOT_SCREEN
from bt.errors import OptionError

PIT_HZ, PIT_PERIOD = 1_193_182, 65536
HARD_DISK_FIRST = 0x80
BOOT_SECTOR = 0x7C00
BOOT_SP = 0x6F04


@dataclass(frozen=True, slots=True)
class Chs:
    """A disk geometry: cylinders, heads, sectors per track."""

    cylinders: int
    heads: int
    sectors: int


@dataclass(frozen=True, slots=True)
class DiskCounts:
    """The drives POST reports (the INT 13h layer owns the images), and the (logical,
    physical) geometry of the first two hard disks for their parameter tables (INT 41h/46h)."""

    floppies: int
    hard_disks: int
    geometries: tuple[tuple[Chs, Chs], ...] = ()


FDPT = 0x3D  # the EBDA offset of SeaBIOS's fdpt[0] (struct extended_bios_data_area_s)
FDPT_SIZE = 16


def fdpt(logical: Chs, physical: Chs) -> bytes:
    """A fixed disk parameter table as SeaBIOS's fill_fdpt (src/block.c) builds it: logical
    CHS, precompensation 0xFFFF, control 0xC0 (| 8 above 8 heads), landing zone = physical
    cylinders, and when the sector counts differ the translated form (0xA0 signature,
    physical CHS, checksum)."""
    table = bytearray(FDPT_SIZE)
    table[0:2] = logical.cylinders.to_bytes(2, "little")
    table[2] = logical.heads & 0xFF
    table[5:7] = b"\xff\xff"
    table[8] = 0xC0 | (0x08 if physical.heads > 8 else 0)
    table[12:14] = physical.cylinders.to_bytes(2, "little")
    table[14] = logical.sectors
    if logical.sectors != physical.sectors:
        table[3] = 0xA0
        table[4] = physical.sectors
        table[9:11] = physical.cylinders.to_bytes(2, "little")
        table[11] = physical.heads & 0xFF
        table[15] = -sum(table) & 0xFF
    return bytes(table)


@dataclass(frozen=True, slots=True)
class BootState:
    """The registers at the boot sector's first instruction, for the loader to apply."""

    cs: int
    ip: int
    ss: int
    sp: int
    ds: int
    es: int
    fs: int
    gs: int
    eax: int
    ebx: int
    ecx: int
    edx: int
    esi: int
    edi: int
    ebp: int
    eflags: int
    cr0: int


def boot_state(boot_drive: int) -> BootState:
    """SeaBIOS's call_boot_entry: AX = 0xAA55, DL = the drive, IF set, the rest 0."""
    return BootState(
        cs=0, ip=BOOT_SECTOR, ss=0, sp=BOOT_SP, ds=0, es=0, fs=0, gs=0,
        eax=0xAA55, ebx=0, ecx=0, edx=boot_drive & 0xFF, esi=0, edi=0, ebp=0,
        eflags=0x202, cr0=0x10,
    )  # fmt: skip


def boot_screen(boot_drive: int | None) -> tuple[str, ...]:
    """The rows QEMU's screen shows when SeaBIOS enters the boot sector of `boot_drive` (None:
    an option ROM, as QEMU's -kernel boots through linuxboot_dma.bin)."""
    if boot_drive is None:
        device = "ROM"
    else:
        device = "Hard Disk" if boot_drive >= HARD_DISK_FIRST else "Floppy"
    return (*BOOT_SCREEN[:-1], f"Booting from {device}...")


def ticks_from_ms(ms: int) -> int:
    """BIOS ticks in `ms` milliseconds, rounded up twice as SeaBIOS's ticks_from_ms does."""
    kticks = -(-ms * PIT_HZ // PIT_PERIOD)
    return -(-kticks // 1000)


def _bcd(value: int) -> int:
    return (value >> 4) * 10 + (value & 0x0F)


def post(
    mem: PhysMemory,
    ports: Ports,
    ram_size: int,
    boot_drive: int | None,
    disks: DiskCounts,
    *,
    com_ports: tuple[int, ...] = (0x3F8,),
    lpt_ports: tuple[int, ...] = (0x378,),
    banner: bool = True,
) -> BootState:
    """Initialise memory and devices as SeaBIOS does before booting from `boot_drive` (None:
    from an option ROM; the state returned is then the boot sector's, for drive 0x80).

    `com_ports`/`lpt_ports` are the ports the machine has (QEMU's default machine has COM1
    and LPT1; the equipment word counts them). `ram_size` does not change what POST writes
    (the E820 map is INT 15h's); it is checked to hold the EBDA.
    """
    if ram_size < bda.EBDA + bda.EBDA_KIB * 1024:
        raise OptionError(f"{ram_size} bytes of RAM do not reach the EBDA at {bda.EBDA:#x}")
    rom = load()
    mem.write_phys(0, rom.ivt_bytes())
    _bda(mem, disks, com_ports, lpt_ports)
    mem.write_phys(bda.EBDA, bytes((bda.EBDA_KIB,)) + bytes(bda.EBDA_KIB * 1024 - 1))
    for i, (logical, physical) in enumerate(disks.geometries[:2]):
        offset = FDPT + FDPT_SIZE * i
        mem.write_phys(bda.EBDA + offset, fdpt(logical, physical))
        bda.write32(mem, 4 * (0x41 if i == 0 else 0x46), bda.EBDA_SEGMENT << 16 | offset)
    _pics(ports)
    ports.write(0x43, 1, 0x34)  # channel 0, lobyte/hibyte, mode 2, binary (pit_setup)
    ports.write(0x40, 1, 0)
    ports.write(0x40, 1, 0)
    rtc_setup(ports)
    seconds = _bcd(rtc_read(ports, SECONDS))
    minutes = _bcd(rtc_read(ports, MINUTES))
    hours = _bcd(rtc_read(ports, HOURS))
    ticks = ticks_from_ms(((hours * 60 + minutes) * 60 + seconds) * 1000)
    bda.write32(mem, bda.TIMER_COUNTER, ticks % 0x1800B0)
    ports.write(0x92, 1, (ports.read(0x92, 1) & ~0x01) | 0x02)  # A20 on
    _screen(mem, ports, boot_screen(boot_drive) if banner else ())
    return boot_state(HARD_DISK_FIRST if boot_drive is None else boot_drive)


def _bda(
    mem: PhysMemory, disks: DiskCounts, com_ports: tuple[int, ...], lpt_ports: tuple[int, ...]
) -> None:
    mem.write_phys(bda.BDA, bytes(bda.BDA_SIZE))
    for i, port in enumerate(com_ports[:4]):
        bda.write16(mem, bda.PORT_COM + 2 * i, port)
        bda.write8(mem, bda.COM_TIMEOUT + i, 0x0A)
    for i, port in enumerate(lpt_ports[:3]):
        bda.write16(mem, bda.PORT_LPT + 2 * i, port)
        bda.write8(mem, bda.LPT_TIMEOUT + i, 0x14)
    bda.write16(mem, bda.EBDA_SEG, bda.EBDA_SEGMENT)
    equipment = 0x0002 | 0x0004 | 0x0020  # FPU, PS/2 mouse, 80x25 colour
    if disks.floppies:
        equipment |= 0x0001 | ((min(disks.floppies, 4) - 1) << 6)
    equipment |= min(len(com_ports), 4) << 9
    equipment |= min(len(lpt_ports), 3) << 14
    bda.write16(mem, bda.EQUIPMENT, equipment)
    bda.write16(mem, bda.MEM_SIZE_KIB, bda.BASE_MEMORY_KIB)
    for field in (bda.KBD_BUF_HEAD, bda.KBD_BUF_TAIL, bda.KBD_BUF_START):
        bda.write16(mem, field, bda.KBD_BUF_OFFSET)
    bda.write16(mem, bda.KBD_BUF_END, bda.KBD_BUF_END_OFFSET)
    bda.write8(mem, bda.KBD_FLAG2, 0x10)
    bda.write8(mem, bda.HDCOUNT, disks.hard_disks)
    bda.write8(mem, bda.DISK_CONTROL_BYTE, 0xC0)
    if disks.floppies:
        bda.write8(mem, bda.FLOPPY_HARDDISK_INFO, 0x07)
    bda.write8(mem, bda.VIDEO_MODE, 3)
    bda.write16(mem, bda.VIDEO_COLS, COLS)
    bda.write16(mem, bda.VIDEO_PAGESIZE, PAGE_SIZE)
    bda.write16(mem, bda.CURSOR_TYPE, DEFAULT_CURSOR)
    bda.write16(mem, bda.CRTC_ADDRESS, 0x3D4)
    bda.write8(mem, bda.VIDEO_ROWS, 24)
    bda.write16(mem, bda.CHAR_HEIGHT, 16)
    bda.write8(mem, bda.VIDEO_CTL, 0x60)
    bda.write8(mem, bda.VIDEO_SWITCHES, 0xF9)
    bda.write8(mem, bda.MODESET_CTL, 0x51)
    bda.write8(mem, bda.DCC_INDEX, 0x08)


def _pics(ports: Ports) -> None:
    """SeaBIOS's pic_setup, then the masks of the IRQs it has handlers for."""
    for base, vector, cascade, mask in ((0x20, 0x08, 0x04, 0xB8), (0xA0, 0x70, 0x02, 0x8E)):
        ports.write(base, 1, 0x11)  # ICW1: edge, cascade, ICW4 follows
        ports.write(base + 1, 1, vector)
        ports.write(base + 1, 1, cascade)
        ports.write(base + 1, 1, 0x01)  # ICW4: 8086 mode
        ports.write(base + 1, 1, mask)
    ports.write(0x4D0, 1, 0x00)  # ELCR: PCI interrupts (IRQ 10, 11) level-triggered
    ports.write(0x4D1, 1, 0x0C)


def _screen(mem: PhysMemory, ports: Ports, rows: tuple[str, ...]) -> None:
    """Mode 3's registers and memory with `rows` on top, the cursor below them."""
    cells = bytearray(BLANK.to_bytes(2, "little") * (0x8000 // 2))
    for row, text in enumerate(rows):
        for col, char in enumerate(text.encode("ascii")[:COLS]):
            cells[2 * (row * COLS + col)] = char
    mem.write_phys(COLOR_TEXT, bytes(cells))
    cursor_row = len(rows)
    bda.write16(mem, bda.CURSOR_POS, cursor_row << 8)
    ports.write(0x3C2, 1, 0x67)
    crtc = bytearray(BOOT_CRTC)
    location = cursor_row * COLS
    crtc[0x0E], crtc[0x0F] = location >> 8, location & 0xFF
    ports.write(0x3D4, 1, 0x11)
    ports.write(0x3D5, 1, crtc[0x11] & 0x7F)  # unlock CR0-CR7
    for index, value in enumerate(crtc):
        ports.write(0x3D4, 1, index)
        ports.write(0x3D5, 1, value)
