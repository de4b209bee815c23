"""The Multiboot v1 hand-off exactly as QEMU 7.2 (`-kernel`, multiboot_dma.bin) leaves it.

Measured with `qemu-system-i386 -kernel K -m 128 -display none -serial stdio` (Debian
7.2+dfsg-7+deb12u18) and `-d cpu -dfilter <kernel range> -singlestep`, on two kernels (1 MiB and
2 MiB, 0x3018 and 0x262c4 bytes, with and without -append) and -m 2/16/100/128/256/512/3583/
3584/4000; the MBI and mmap were dumped by the kernel over COM1. CPU state at the kernel's entry:

    EAX 0x2badb002             Multiboot magic
    EBX 0x00009500             MBI address (fixed, whatever the kernel)
    ECX entry                  the option ROM jumps through ECX
    EDX (mem_upper & 0xffff0000) | 0x511   high half left from the mem_upper sum, low the
                               fw_cfg data port (0x10511 at 128 MiB, 0x30511 at 256 MiB)
    ESP 0x00006f08             SeaBIOS's stack, as the option ROM left it
    EBP 0, ESI 0
    EDI bswap32(load address)  the fw_cfg DMA macro byte-swaps its address register in place
    EFLAGS 0x00000006          PF set, IF clear
    CR0 0x00000011             PE | ET; CR2 = CR3 = CR4 = 0, EFER 0
    CS  0x0008 base 0 limit 0xffffffff flags 0x00cf9a00   (not accessed)
    ES SS DS FS GS 0x0010 base 0 limit 0xffffffff flags 0x00cf9300
    LDTR 0x0000 base 0 limit 0xffff flags 0x00008200
    TR   0x0000 base 0 limit 0xffff flags 0x00008b00   (busy 32-bit TSS: the reset state)
    GDTR 0x000cb2b8 limit 0x27 (the option ROM's 5-entry GDT; bytes in ROM_GDT)
    IDTR 0x00000000 limit 0x3ff (the real-mode IVT)

Memory the guest sees (see `build_handoff`):

    0x9000   the mmap: SeaBIOS's e820 table, 24-byte entries (size 20 first), see `e820_map`
    0x9500   the 88-byte MBI: flags 0x24f (mem, boot_device, cmdline, mods, mmap, loader name),
             mem_lower 639, mem_upper = KiB of RAM contiguous from 1 MiB, boot_device
             0x8000ffff, mods_count 0, mods_addr = the info area, mmap_addr 0x9000; rest 0.
    kernel   the image from the lowest to the highest PT_LOAD byte (gaps and bss zero)
    info     at load + page_align(image size): "<path> <cmdline>\\0" (always the space,
             even with no -append) then "qemu\\0"; zero to the next page boundary.

Surprises: QEMU refuses no Multiboot flag bit (bit 2, video, only prints a warning); the
command line starts with the kernel's file name as given; an ELF's PT_LOAD holding the ELF
headers (ld's default at 1 MiB - 4 KiB) moves the load address and so the info area.
"""

from dataclasses import dataclass

from bt.bootimage import MemoryChunk, SegmentState

MAGIC_EAX = 0x2BADB002
"""EAX at the kernel's entry."""

MMAP_ADDR = 0x9000
MBI_ADDR = 0x9500
MBI_SIZE = 88
MBI_FLAGS = 0x24F
MEM_LOWER_KIB = 639  # INT 12h: 640 KiB minus SeaBIOS's 1 KiB EBDA at 0x9fc00
BOOT_DEVICE = 0x8000FFFF
BOOT_LOADER_NAME = b"qemu"
PAGE = 0x1000

ROM_STACK = 0x6F08
"""ESP at entry: SeaBIOS's stack after the option ROM's pushes and pops."""

FW_CFG_DATA_PORT = 0x511

ROM_GDT_ADDR = 0xCB2B8
ROM_GDT = bytes.fromhex(
    "0000000000000000"  # null
    "ffff0000009acf00"  # 0x08 flat 32-bit code, not accessed (QEMU's far jump leaves it so)
    "ffff00000093cf00"  # 0x10 flat 32-bit data, accessed (set when SS/DS/... were loaded)
    "ffff0000009e0000"  # 0x18 16-bit conforming code, 64 KiB
    "ffff000000920000"  # 0x20 16-bit data, 64 KiB
)
"""The option ROM's GDT as the guest can read it at GDTR.base (measured bytes)."""

EFLAGS = 0x00000006
CR0 = 0x00000011
GDTR = (ROM_GDT_ADDR, len(ROM_GDT) - 1)
IDTR = (0x00000000, 0x3FF)

CODE32 = SegmentState(0x0008, 0, 0xFFFFFFFF, 0x00CF9A00)
DATA32 = SegmentState(0x0010, 0, 0xFFFFFFFF, 0x00CF9300)
SEGMENTS = (DATA32, CODE32, DATA32, DATA32, DATA32, DATA32)
"""es, cs, ss, ds, fs, gs at entry."""

LDTR = SegmentState(0, 0, 0xFFFF, 0x00008200)
TR = SegmentState(0, 0, 0xFFFF, 0x00008B00)

E820_RAM = 1
E820_RESERVED = 2
HIGH_TABLES = 0x20000  # SeaBIOS keeps the top 128 KiB of low RAM for its tables
LOWMEM_SPLIT = 0xE0000000  # i440fx: RAM of this size or more is split around the PCI hole
LOWMEM_GIGALIGNED = 0xC0000000  # ... and then low RAM ends at 3 GiB


@dataclass(frozen=True, slots=True)
class E820Entry:
    """One entry of the BIOS memory map, as the mmap lists it."""

    base: int
    length: int
    type: int


@dataclass(frozen=True, slots=True)
class Handoff:
    """What QEMU's Multiboot loader writes and leaves in registers, for one kernel."""

    chunks: tuple[MemoryChunk, ...]  # ROM GDT, mmap, MBI (in QEMU's write order)
    info_addr: int  # where the info area (cmdline, loader name) starts
    info_area: bytes  # its bytes, zero-padded to the page boundary
    mem_upper: int  # KiB
    gpr: tuple[int, int, int, int, int, int, int, int]  # eax ecx edx ebx esp ebp esi edi


def page_align(n: int) -> int:
    """`n` rounded up to a page boundary (TARGET_PAGE_ALIGN)."""
    return (n + PAGE - 1) & ~(PAGE - 1)


def low_ram_end(mem_size: int) -> int:
    """End of the RAM below 4 GiB for `mem_size` bytes of guest RAM."""
    return mem_size if mem_size < LOWMEM_SPLIT else LOWMEM_GIGALIGNED


def e820_map(mem_size: int) -> tuple[E820Entry, ...]:
    """SeaBIOS's e820 table for `mem_size` bytes of RAM (checked from 2 MiB to 4000 MiB)."""
    low = low_ram_end(mem_size)
    entries = [
        E820Entry(0, 0x9FC00, E820_RAM),
        E820Entry(0x9FC00, 0x400, E820_RESERVED),  # EBDA
        E820Entry(0xF0000, 0x10000, E820_RESERVED),  # BIOS
    ]
    if low - HIGH_TABLES > 0x100000:
        entries.append(E820Entry(0x100000, low - HIGH_TABLES - 0x100000, E820_RAM))
    entries.append(E820Entry(low - HIGH_TABLES, HIGH_TABLES, E820_RESERVED))
    entries.append(E820Entry(0xFFFC0000, 0x40000, E820_RESERVED))  # the flash ROM
    if mem_size > low:
        entries.append(E820Entry(1 << 32, mem_size - low, E820_RAM))
    return tuple(entries)


def mmap_bytes(entries: tuple[E820Entry, ...]) -> bytes:
    """The Multiboot mmap: each entry led by its size (20), as the option ROM stores them."""
    out = bytearray()
    for e in entries:
        out += (20).to_bytes(4, "little") + e.base.to_bytes(8, "little")
        out += e.length.to_bytes(8, "little") + e.type.to_bytes(4, "little")
    return bytes(out)


def mem_upper_kib(entries: tuple[E820Entry, ...]) -> int:
    """KiB of RAM contiguous from 1 MiB, by the option ROM's own search over the mmap."""
    end = 0x100000
    grown = True
    while grown:  # the ROM restarts its scan after each extension: the map is not sorted
        grown = False
        for e in entries:
            if e.type == E820_RAM and e.base < 1 << 32 and e.base <= end < e.base + e.length:
                end = e.base + e.length
                grown = True
    return (end - 0x100000) >> 10


def bswap32(x: int) -> int:
    """`x` with its four bytes reversed."""
    return int.from_bytes((x & 0xFFFFFFFF).to_bytes(4, "little"), "big")


def build_handoff(
    load_addr: int,
    image_size: int,
    kernel_name: bytes,
    cmdline: bytes,
    entry: int,
    mem_size: int,
) -> Handoff:
    """The MBI, mmap, info area and entry registers for a kernel spanning
    [load_addr, load_addr + image_size), following hw/i386/multiboot.c and multiboot_dma.S."""
    entries = e820_map(mem_size)
    mmap = mmap_bytes(entries)
    mem_upper = mem_upper_kib(entries)
    info_addr = load_addr + page_align(image_size)
    # QEMU prints "%s %s" of file name and -append: the space is there even with no -append.
    kcmdline = kernel_name + b" " + cmdline + b"\0"
    name = BOOT_LOADER_NAME + b"\0"
    cmdline_addr = info_addr  # no module slots precede it (no -initrd)
    name_addr = cmdline_addr + len(kcmdline)
    info = kcmdline + name
    info_area = info + bytes(
        page_align(page_align(image_size) + len(info)) - page_align(image_size) - len(info)
    )
    mbi = bytearray(MBI_SIZE)

    def put(off: int, value: int) -> None:
        mbi[off : off + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")

    put(0, MBI_FLAGS)
    put(4, MEM_LOWER_KIB)
    put(8, mem_upper)
    put(12, BOOT_DEVICE)
    put(16, cmdline_addr)
    put(20, 0)  # mods_count
    put(24, info_addr)  # mods_addr: the (empty) module table at the start of the info area
    put(44, len(mmap) & 0xFFFF)  # the ROM stores only the low word (movw %di, %fs:0x2c)
    put(48, MMAP_ADDR)
    put(64, name_addr)
    edx = (mem_upper & 0xFFFF0000) | FW_CFG_DATA_PORT
    gpr = (MAGIC_EAX, entry, edx, MBI_ADDR, ROM_STACK, 0, 0, bswap32(load_addr))
    chunks = (
        MemoryChunk(ROM_GDT_ADDR, ROM_GDT),
        MemoryChunk(MBI_ADDR, bytes(mbi)),  # fw_cfg copies the MBI before the ROM runs e820
        MemoryChunk(MMAP_ADDR, mmap),
    )
    return Handoff(chunks, info_addr, info_area, mem_upper, gpr)
