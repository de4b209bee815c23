"""Real-mode boot images: the CPU state a boot sector, or a reset vector, starts in."""

from __future__ import annotations

from dataclasses import dataclass

from bt.bootimage import BootImage, MemoryChunk, SegmentState

# QEMU's x86_cpu_reset: CR0 = CD | NW | ET, data segments 0x93 (present, writable, accessed),
# CS 0x9b, LDTR 0x82, TR 0x8b, every limit 0xFFFF, GDTR limit 0xFFFF, IDTR the IVT's 0x3FF
# (the reset value 0xFFFF becomes 0x3FF once a BIOS did its LIDT; SeaBIOS does).
RESET_CR0 = 0x60000010
DATA_FLAGS = 0x00009300
CODE_FLAGS = 0x00009B00
BOOT_SECTOR_ADDR = 0x7C00


@dataclass(frozen=True, slots=True)
class RealModeEntry:
    """Where and how real-mode code starts: CS:IP, SS:SP, DS=ES, the registers, FLAGS."""

    cs: int
    ip: int
    ss: int = 0
    sp: int = 0
    ds: int = 0
    gpr: tuple[int, int, int, int, int, int, int, int] = (0, 0, 0, 0, 0, 0, 0, 0)
    eflags: int = 0x2
    idtr: tuple[int, int] = (0, 0x3FF)
    cs_base: int | None = None  # the reset vector's CS base (0xFFFF0000), else CS * 16
    cr0: int = RESET_CR0  # SeaBIOS leaves 0x10 at the boot sector (its POST clears CD, NW)
    es: int | None = None  # None: as DS
    fs: int = 0
    gs: int = 0
    gdtr: tuple[int, int] = (0, 0xFFFF)


def _seg(selector: int, flags: int, base: int | None = None) -> SegmentState:
    return SegmentState(selector, selector << 4 if base is None else base, 0xFFFF, flags)


def real_mode_image(
    chunks: tuple[MemoryChunk, ...], entry: RealModeEntry, image_range: tuple[int, int]
) -> BootImage:
    """A BootImage that starts in real mode at `entry` with `chunks` in RAM."""
    gpr = list(entry.gpr)
    gpr[4] = (gpr[4] & ~0xFFFF) | entry.sp
    data = _seg(entry.ds, DATA_FLAGS)
    return BootImage(
        kind="real",
        chunks=chunks,
        entry=entry.ip,
        gpr=(gpr[0], gpr[1], gpr[2], gpr[3], gpr[4], gpr[5], gpr[6], gpr[7]),
        eflags=entry.eflags,
        cr0=entry.cr0,
        segments=(
            data if entry.es is None else _seg(entry.es, DATA_FLAGS),
            _seg(entry.cs, CODE_FLAGS, entry.cs_base),
            _seg(entry.ss, DATA_FLAGS),
            data,
            _seg(entry.fs, DATA_FLAGS),
            _seg(entry.gs, DATA_FLAGS),
        ),
        ldtr=SegmentState(0, 0, 0xFFFF, 0x00008200),
        tr=SegmentState(0, 0, 0xFFFF, 0x00008B00),
        gdtr=entry.gdtr,
        idtr=entry.idtr,
        mbi_addr=None,
        image_range=image_range,
    )


def boot_sector_image(sector: bytes, entry: RealModeEntry | None = None) -> BootImage:
    """A boot sector loaded at 0000:7C00 and entered there (`entry`: the firmware's state at
    that point; by default CS:IP 0000:7C00 with everything else zero)."""
    where = entry or RealModeEntry(0, BOOT_SECTOR_ADDR)
    end = BOOT_SECTOR_ADDR + len(sector)
    return real_mode_image((MemoryChunk(BOOT_SECTOR_ADDR, sector),), where, (BOOT_SECTOR_ADDR, end))
