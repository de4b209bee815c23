"""The CMOS RAM's layout: register indexes and bits, and the bytes QEMU's pc_cmos_init writes.

Memory bytes (measured, identical to pc_cmos_init for the default `pc` machine with no disks):
0x0A 0x26, 0x0B 0x02, 0x0D 0x80, 0x10 0x50 (floppy 0: 2.88 MB, QEMU's default drive type),
0x14 0x07 (equipment: floppy, FPU, PS/2 mouse, VGA), 0x15/0x16 640 KiB, 0x17/0x18 and 0x30/0x31
extended memory in KiB (below 4 GiB, minus 1 MiB, capped at 65535), 0x32 century, 0x34/0x35
memory above 16 MiB in 64 KiB units (capped at 65535), 0x38 0x30 and 0x3D 0x12 (boot order
"cad" and floppy signature check), 0x5B-0x5D memory above 4 GiB in 64 KiB units, 0x5F CPUs - 1
= 0; everything else 0, alarms included. RAM of 3.5 GiB or more is split as pc-i440fx does:
3 GiB below 4 GiB and the rest above (measured: -m 3584 gives 0x34/0x35 = 0xBF00 and
0x5B-0x5D = 00 20 00; -m 3000 keeps it all low: 0xBA80).
"""

from __future__ import annotations

from dataclasses import dataclass

SECONDS, SECONDS_ALARM, MINUTES, MINUTES_ALARM, HOURS, HOURS_ALARM = range(6)
DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR = range(6, 10)
REG_A, REG_B, REG_C, REG_D = 0x0A, 0x0B, 0x0C, 0x0D
CENTURY = 0x32
PS2_CENTURY = 0x37
CMOS_SIZE = 128
TIME_REGS = (SECONDS, MINUTES, HOURS, DAY_OF_WEEK, DAY_OF_MONTH, MONTH, YEAR, CENTURY)

A_UIP = 0x80
B_SET, B_PIE, B_AIE, B_UIE, B_SQWE, B_DM, B_24H = 0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x02
C_IRQF, C_PF, C_AF, C_UF = 0x80, 0x40, 0x20, 0x10
C_MASK = 0x70
DONT_CARE = 0xC0

KIB, MIB, GIB = 1 << 10, 1 << 20, 1 << 30
LOWMEM_SPLIT = 0xE0000000  # pc-i440fx: RAM this large or larger puts 3 GiB below 4 GiB
LOWMEM_GB_ALIGNED = 0xC0000000

# What QEMU/SeaBIOS leave in the non-time bytes (see the module docstring).
FIXED_BYTES = {
    REG_A: 0x26,
    REG_B: 0x02,
    REG_D: 0x80,
    0x10: 0x50,
    0x14: 0x07,
    0x15: 0x80,
    0x16: 0x02,
    0x38: 0x30,
    0x3D: 0x12,
}


@dataclass(frozen=True, slots=True)
class RamSplit:
    """Guest RAM as the chipset maps it: below 4 GiB and remapped above."""

    below_4g: int
    above_4g: int


def ram_split(ram_size: int) -> RamSplit:
    """pc-i440fx's split: all low below 3.5 GiB, otherwise 3 GiB low and the rest high."""
    if ram_size >= LOWMEM_SPLIT:
        return RamSplit(LOWMEM_GB_ALIGNED, ram_size - LOWMEM_GB_ALIGNED)
    return RamSplit(ram_size, 0)


def memory_bytes(ram_size: int) -> dict[int, int]:
    """The CMOS memory-size bytes QEMU's pc_cmos_init writes for `ram_size` bytes of RAM."""
    split = ram_split(ram_size)
    ext_kib = min(split.below_4g // KIB - 1024, 0xFFFF)
    high = min(max(split.below_4g - 16 * MIB, 0) // (64 * KIB), 0xFFFF)
    above = split.above_4g // (64 * KIB)
    return {
        0x17: ext_kib & 0xFF,
        0x18: ext_kib >> 8,
        0x30: ext_kib & 0xFF,
        0x31: ext_kib >> 8,
        0x34: high & 0xFF,
        0x35: high >> 8,
        0x5B: above & 0xFF,
        0x5C: (above >> 8) & 0xFF,
        0x5D: (above >> 16) & 0xFF,
    }


def initial_bytes(ram_size: int) -> bytearray:
    """The 128 bytes before the clock fills the time registers: fixed and memory-size bytes."""
    data = bytearray(CMOS_SIZE)
    for index, value in FIXED_BYTES.items():
        data[index] = value
    for index, value in memory_bytes(ram_size).items():
        data[index] = value
    return data
