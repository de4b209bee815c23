"""The BIOS data area (0x400-0x4FF) and EBDA: field addresses and little-endian access."""

from __future__ import annotations

from bt.bios.api import PhysMemory

BDA = 0x400
BDA_SIZE = 0x100
EBDA_SEGMENT = 0x9FC0
EBDA = EBDA_SEGMENT << 4  # 0x9FC00: the last KiB of conventional memory, as SeaBIOS puts it
EBDA_KIB = 1
BASE_MEMORY_KIB = EBDA >> 10  # 639: INT 12h and 0x413

# Field addresses (physical), named as SeaBIOS's struct bios_data_area_s (std/bda.h) names them.
PORT_COM = 0x400  # four words
PORT_LPT = 0x408  # three words
EBDA_SEG = 0x40E
EQUIPMENT = 0x410
MEM_SIZE_KIB = 0x413
KBD_FLAG0 = 0x417
KBD_FLAG1 = 0x418
KBD_BUF_HEAD = 0x41A
KBD_BUF_TAIL = 0x41C
KBD_BUF = 0x41E  # 16 words; offsets in the head/tail fields are from segment 0x40
FLOPPY_MOTOR_STATUS = 0x43F
FLOPPY_MOTOR_COUNTER = 0x440
VIDEO_MODE = 0x449
VIDEO_COLS = 0x44A
VIDEO_PAGESIZE = 0x44C
VIDEO_PAGESTART = 0x44E
CURSOR_POS = 0x450  # eight words, (row << 8) | column
CURSOR_TYPE = 0x460
VIDEO_PAGE = 0x462
CRTC_ADDRESS = 0x463
VIDEO_MSR = 0x465
VIDEO_PAL = 0x466
TIMER_COUNTER = 0x46C
TIMER_ROLLOVER = 0x470
SOFT_RESET_FLAG = 0x472
HDCOUNT = 0x475
DISK_CONTROL_BYTE = 0x476
LPT_TIMEOUT = 0x478
COM_TIMEOUT = 0x47C
KBD_BUF_START = 0x480
KBD_BUF_END = 0x482
VIDEO_ROWS = 0x484  # rows - 1
CHAR_HEIGHT = 0x485
VIDEO_CTL = 0x487
VIDEO_SWITCHES = 0x488
MODESET_CTL = 0x489
DCC_INDEX = 0x48A
FLOPPY_HARDDISK_INFO = 0x48F
KBD_FLAG2 = 0x496
KBD_LED = 0x497

KBD_BUF_OFFSET = KBD_BUF - BDA  # 0x1E: what SeaBIOS's kbd_setup puts in head/tail/start
KBD_BUF_END_OFFSET = KBD_BUF_OFFSET + 32  # 0x3E


def read8(mem: PhysMemory, addr: int) -> int:
    """The byte at `addr`."""
    return mem.read_phys(addr, 1)[0]


def read16(mem: PhysMemory, addr: int) -> int:
    """The little-endian word at `addr`."""
    return int.from_bytes(mem.read_phys(addr, 2), "little")


def read32(mem: PhysMemory, addr: int) -> int:
    """The little-endian doubleword at `addr`."""
    return int.from_bytes(mem.read_phys(addr, 4), "little")


def write8(mem: PhysMemory, addr: int, value: int) -> None:
    """Store the byte `value` at `addr`."""
    mem.write_phys(addr, bytes((value & 0xFF,)))


def write16(mem: PhysMemory, addr: int, value: int) -> None:
    """Store the word `value` at `addr`."""
    mem.write_phys(addr, (value & 0xFFFF).to_bytes(2, "little"))


def write32(mem: PhysMemory, addr: int, value: int) -> None:
    """Store the doubleword `value` at `addr`."""
    mem.write_phys(addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))
