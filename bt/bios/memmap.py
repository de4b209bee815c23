"""The memory map a guest of a given RAM size sees through INT 15h E820h, E801h and 88h.

Measured under QEMU 7.2 (pc-i440fx, SeaBIOS 1.16.2) at -m 2, 16, 64, 128, 256, 1024 and 3584
with a boot sector calling each function:

- E820h lists, in this order: RAM 0-0x9FC00; reserved 0x9FC00-0xA0000 (the EBDA); reserved
  0xF0000-0x100000 (the BIOS); RAM from 1 MiB to 128 KiB below the top of low RAM; reserved
  those 128 KiB (SeaBIOS's high-memory zone, its tables); reserved 0xFFFC0000-4 GiB (the flash);
  and, with RAM above 4 GiB (3.5 GiB or more, split as bt.devices.cmos_layout.ram_split), RAM
  from 4 GiB. Each entry is 20 bytes (SeaBIOS's struct e820entry: base, length, type);
  ECX returns 20, EBX the next index or 0 after the last.
- E801h: AX = CX = KiB between 1 MiB and 16 MiB (at most 15 MiB), BX = DX = 64 KiB blocks
  above 16 MiB, both counted up to the reserved high zone (-m 128: 0x3C00, 0x06FE).
- 88h: KiB above 1 MiB up to the high zone, capped at 0xFC00 (-m 64: 0xFB80; -m 128: 0xFC00).

On QEMU's isapc machine SeaBIOS reserves no high zone: Linux under `-M isapc` prints RAM from
1 MiB to the top of RAM, then the flash (`machine` "isapc": HIGH_ZONE is 0 there).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bt.bios.bda import EBDA
from bt.devices.cmos_layout import ram_split

E820_RAM, E820_RESERVED = 1, 2
E820_ENTRY_SIZE = 20
KIB, MIB = 1 << 10, 1 << 20
HIGH_ZONE = 128 * KIB  # reserved at the top of low RAM
BIOS_AREA = 0xF0000
FLASH_BASE = 0xFFFC0000
FOUR_GIB = 1 << 32
LEGACY_CAP_KIB = 0xFC00  # INT 15h 88h's cap (63 MiB)


@dataclass(frozen=True, slots=True)
class E820Entry:
    """One range of the map."""

    base: int
    length: int
    kind: int

    def pack(self) -> bytes:
        """The 20 bytes E820h stores at ES:DI."""
        return struct.pack("<QQI", self.base, self.length, self.kind)


def high_zone(machine: str = "pc") -> int:
    """Bytes SeaBIOS reserves at the top of low RAM on QEMU's `machine` ("pc" or "isapc")."""
    return 0 if machine == "isapc" else HIGH_ZONE


def ram_end(ram_size: int, machine: str = "pc") -> int:
    """Where the usable RAM below 4 GiB ends: the top of low RAM less the high zone."""
    return ram_split(ram_size).below_4g - high_zone(machine)


def e820_map(ram_size: int, machine: str = "pc") -> tuple[E820Entry, ...]:
    """The map SeaBIOS gives a guest with `ram_size` bytes of RAM on QEMU's `machine`."""
    split = ram_split(ram_size)
    low_top = split.below_4g
    zone = high_zone(machine)
    entries = [
        E820Entry(0, EBDA, E820_RAM),
        E820Entry(EBDA, 0xA0000 - EBDA, E820_RESERVED),
        E820Entry(BIOS_AREA, 0x100000 - BIOS_AREA, E820_RESERVED),
        E820Entry(MIB, low_top - zone - MIB, E820_RAM),
    ]
    if zone:
        entries.append(E820Entry(low_top - zone, zone, E820_RESERVED))
    entries += [
        E820Entry(FLASH_BASE, FOUR_GIB - FLASH_BASE, E820_RESERVED),
    ]
    if split.above_4g:
        entries.append(E820Entry(FOUR_GIB, split.above_4g, E820_RAM))
    return tuple(entries)


def e801(ram_size: int, machine: str = "pc") -> tuple[int, int]:
    """(KiB between 1 and 16 MiB, 64 KiB blocks above 16 MiB) as E801h reports them."""
    end = ram_end(ram_size, machine)
    low = min(max(end - MIB, 0), 15 * MIB) // KIB
    high = max(end - 16 * MIB, 0) // (64 * KIB)
    return low, high


def extended_kib(ram_size: int, machine: str = "pc") -> int:
    """INT 15h 88h: KiB of RAM above 1 MiB, capped at 0xFC00."""
    return min(max(ram_end(ram_size, machine) - MIB, 0) // KIB, LEGACY_CAP_KIB)
