"""reset_boot: a firmware ROM (`bt run --bios FILE`) and the CPU's reset state, as QEMU's -bios.

QEMU 7.2's x86_bios_rom_init (hw/i386/x86.c) takes a file whose size is a nonzero multiple of
64 KiB ("qemu: could not load PC BIOS" otherwise; measured: 96 KiB is refused, 64 KiB, 128 KiB,
192 KiB and 32 MiB are taken), maps it read-only so that it ends at 4 GiB, and aliases its last
min(size, 128 KiB) read-only below 1 MiB, ending at 0x100000 (a 64 KiB ROM shows at 0xF0000
only). bt takes at most MAX_ROM. The ROM is the whole guest: the machine is the PC's RAM and
devices, with no BIOS services. QEMU with -bios and -kernel or a disk runs the given firmware,
which boots them; bt refuses that combination (its engine has no fw_cfg or disk controller for
a firmware to boot from).

The CPU starts as x86_cpu_reset leaves it: CS F000 with base 0xFFFF0000 (the first fetch is at
0xFFFFFFF0), IP 0xFFF0, EDX the CPUID signature (leaf 1's EAX), EFLAGS 2, CR0 0x60000010,
every other general register 0, the data segments base 0 limit 0xFFFF, GDTR and IDTR base 0
limit 0xFFFF, DR6 0xFFFF0FF0 and DR7 0x400 (the vCPU's defaults).
"""

from __future__ import annotations

from bt.bootimage import BootImage, MemoryChunk
from bt.cpumodel import CpuModel
from bt.errors import GuestImageError
from bt.layout import MAX_ROM
from bt.realboot import RealModeEntry, real_mode_image

ROM_UNIT = 64 << 10  # QEMU's size rule: a whole number of 64 KiB
ISA_BIOS_MAX = 128 << 10  # the alias below 1 MiB (QEMU's isa-bios region)
ONE_MIB = 1 << 20
RESET_CS = 0xF000
RESET_CS_BASE = 0xFFFF0000
RESET_IP = 0xFFF0


def load_bios(path: str) -> bytes:
    """The firmware file's bytes; GuestImageError (one line) when it is missing or of a size
    QEMU refuses."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_ROM + 1)
    except OSError as exc:
        raise GuestImageError(f"--bios: cannot read {path}: {exc.strerror}") from None
    size = len(data)
    if size == 0 or size % ROM_UNIT:
        raise GuestImageError(
            f"--bios: {path} is {size} bytes; a firmware ROM is a nonzero multiple of 64 KiB"
        )
    if size > MAX_ROM:
        raise GuestImageError(f"--bios: {path} is larger than {MAX_ROM >> 20} MiB")
    return data


def isa_range(rom: bytes) -> tuple[int, int]:
    """The guest-physical range below 1 MiB where the ROM's last 128 KiB (at most) show."""
    return ONE_MIB - min(len(rom), ISA_BIOS_MAX), ONE_MIB


def reset_image(rom: bytes, cpu: CpuModel) -> BootImage:
    """A BootImage that starts at the reset vector with `rom` mapped (bt.engine maps the top
    copy; the alias below 1 MiB is RAM loaded with the ROM's tail and made read-only)."""
    lo, hi = isa_range(rom)
    signature = cpu.cpuid(1, 0)[0]
    entry = RealModeEntry(
        cs=RESET_CS,
        ip=RESET_IP,
        gpr=(0, 0, signature, 0, 0, 0, 0, 0),
        idtr=(0, 0xFFFF),
        cs_base=RESET_CS_BASE,
    )
    image = real_mode_image((MemoryChunk(lo, rom[len(rom) - (hi - lo) :]),), entry, (lo, hi))
    return image.with_rom(rom, (lo, hi))
