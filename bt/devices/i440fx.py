"""The i440FX host bridge (00:00.0, 8086:1237) as SeaBIOS leaves it: PAM, SMRAM, RAM size."""

from __future__ import annotations

from collections.abc import Callable

from bt.devices.pcifunction import Identity, PciFunction, config_space, firmware_left

PAM0 = 0x59  # PAM0 (F0000-FFFFF in its high nibble) to PAM6 (0x5F)
PAM_COUNT = 7
SMRAM = 0x72
RAM_SIZE_REG = 0x57  # QEMU's I440FX_COREBOOT_RAM_SIZE: RAM in 8 MiB units, at most 255

IDENTITY = Identity(vendor=0x8086, device=0x1237, revision=0x02, class_code=0x060000)
# SeaBIOS 1.16 on QEMU: F0000-FFFFF read-only, C0000-E7FFF read-only up to the end of its used
# area, the rest (E8000-EFFFF) RAM read-write. SMRAM: G_SMRAME with C_BASE_SEG 010 (A0000).
PAM_AT_ENTRY = bytes((0x10, 0x11, 0x11, 0x11, 0x11, 0x11, 0x33))
SMRAM_AT_ENTRY = 0x0A


def pam_access(pam: bytes, addr: int) -> int:
    """The PAM attribute (bit 0: reads from RAM, bit 1: writes to RAM) of `addr` in
    0xC0000-0xFFFFF: PAM0's high nibble covers F0000-FFFFF, PAM1-PAM6 each two 16 KiB
    segments from C0000, low nibble first."""
    if addr >= 0xF0000:
        return (pam[0] >> 4) & 3
    seg = (addr - 0xC0000) >> 14
    return (pam[1 + (seg >> 1)] >> (4 * (seg & 1))) & 3


def i440fx(mem_size: int) -> PciFunction:
    """The host bridge's configuration space at the OS's entry, for `mem_size` bytes of RAM."""
    fn = firmware_left(PciFunction("i440fx", config_space(IDENTITY)), {})
    fn.set_bytes(RAM_SIZE_REG, bytes((min(mem_size >> 23, 255),)))
    fn.set_bytes(PAM0, PAM_AT_ENTRY)
    fn.set_bytes(SMRAM, bytes((SMRAM_AT_ENTRY,)))
    return fn


def pam_registers(fn: PciFunction) -> bytes:
    """PAM0-PAM6 as they stand."""
    return bytes(fn.config[PAM0 : PAM0 + PAM_COUNT])


def read_only_segments(pam: bytes) -> int:
    """Bit n set: 0xC0000 + n * 16 KiB takes no writes (its PAM attribute sends writes to PCI,
    where nothing in that range answers). Reads always come from RAM here: attributes 0 and
    2 (reads from PCI, where QEMU shows its ROM images) read the RAM as it is."""
    return sum(1 << n for n in range(16) if not pam_access(pam, 0xC0000 + n * 0x4000) & 2)


def watch_pam(fn: PciFunction, on_change: Callable[[int], None]) -> None:
    """Tell `on_change` the read-only segments now and after each write that reaches PAM0-6."""

    def written(offset: int, size: int) -> None:
        if offset < PAM0 + PAM_COUNT and offset + size > PAM0:
            on_change(read_only_segments(pam_registers(fn)))

    fn.on_write = written
    on_change(read_only_segments(pam_registers(fn)))
