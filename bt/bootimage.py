"""BootImage: everything the machine needs to start a guest, as the loader produces it."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True, slots=True)
class SegmentState:
    """A segment register with its hidden descriptor cache."""

    selector: int
    base: int
    limit: int  # byte-granular limit (already expanded when G=1)
    flags: int  # descriptor attribute bits exactly as QEMU's -d cpu log prints them (0x00cf9b00)


@dataclass(frozen=True, slots=True)
class MemoryChunk:
    """Bytes to write into guest RAM at a physical address before the guest starts."""

    paddr: int
    data: bytes


@dataclass(frozen=True, slots=True)
class BootImage:
    """A loaded guest: RAM contents and the CPU state at its first instruction.

    Chunks are listed in the order the reference machine writes them; where two overlap
    the later one wins (QEMU's option ROM copies the kernel after the Multiboot information).
    """

    kind: str  # "multiboot" or "flat"
    chunks: tuple[MemoryChunk, ...]  # everything to write into guest RAM before start
    entry: int  # initial EIP
    gpr: tuple[int, int, int, int, int, int, int, int]  # eax ecx edx ebx esp ebp esi edi
    eflags: int
    cr0: int
    segments: tuple[SegmentState, ...]  # es, cs, ss, ds, fs, gs (this order)
    ldtr: SegmentState
    tr: SegmentState
    gdtr: tuple[int, int]  # (base, limit)
    idtr: tuple[int, int]
    mbi_addr: int | None  # physical address of the Multiboot information, None for flat
    image_range: tuple[int, int]  # [start, end) of the kernel image in guest physical memory
    rom: bytes = b""  # a firmware file mapped to end at 4 GiB (bt/resetboot.py)
    read_only: tuple[int, int] = (0, 0)  # [start, end) of RAM that is ROM (writes dropped)

    def with_rom(self, rom: bytes, read_only: tuple[int, int]) -> BootImage:
        """This image with a firmware ROM and a read-only range of RAM."""
        return replace(self, rom=rom, read_only=read_only)
