"""load_guest: a Multiboot v1 kernel or a flat binary -> BootImage, as QEMU's -kernel boots it.

A Multiboot kernel is found the way hw/i386/multiboot.c finds it: the first 4-aligned magic with
a good checksum below offset 8192 - 48. With flag bit 16 (the "a.out kludge") the header's
addresses say what to load, ELF or not, as in QEMU; otherwise the file must be an ELF32 i386
image and its PT_LOAD segments are loaded at their physical addresses.
A flat binary (load_addr given) is copied to load_addr and entered in the same protected-mode
state with the Multiboot hand-off left out: general registers zero except ESP.
"""

import os
import struct
from dataclasses import dataclass
from itertools import pairwise

from bt import multiboot as mb
from bt.bootimage import BootImage, MemoryChunk
from bt.errors import GuestImageError

HEADER_MAGIC = 0x1BADB002
HEADER_SEARCH = 8192 - 48  # QEMU's bound: the whole 48-byte header must lie in the first 8 KiB
FLAG_AOUT_KLUDGE = 1 << 16
ELF_MAGIC = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB = 1
EM_386 = 3
ELF32_EHDR_SIZE = 52
ELF32_PHDR_SIZE = 32
PT_LOAD = 1
PHDR_FIELDS = (
    "p_type",
    "p_offset",
    "p_vaddr",
    "p_paddr",
    "p_filesz",
    "p_memsz",
    "p_flags",
    "p_align",
)


@dataclass(frozen=True, slots=True)
class MultibootHeader:
    """The fields of a Multiboot v1 header found in a kernel file."""

    offset: int  # file offset of the magic
    flags: int
    header_addr: int
    load_addr: int
    load_end_addr: int
    bss_end_addr: int
    entry_addr: int


@dataclass(frozen=True, slots=True)
class KernelImage:
    """A kernel laid out in guest-physical memory: [base, base + len(data)) and its entry."""

    base: int
    data: bytes
    entry: int


def load_guest(
    path: str,
    mem_size: int,
    cmdline: str = "",
    load_addr: int | None = None,
    entry: int | None = None,
) -> BootImage:
    """Load the guest at `path` for a machine with `mem_size` bytes of RAM."""
    data = _read(path)
    ram_end = mb.low_ram_end(mem_size)
    if load_addr is not None:
        return _flat(path, data, ram_end, load_addr, load_addr if entry is None else entry)
    header = _find_header(path, data)
    if header is not None and header.flags & FLAG_AOUT_KLUDGE:
        kernel = _aout_kludge(path, data, header)
    elif data[:4] != ELF_MAGIC:
        if header is None:
            raise GuestImageError(
                f"{path}: not a Multiboot kernel or ELF file (a flat binary "
                "needs --load-addr ADDR, e.g. --load-addr 1M)"
            )
        raise GuestImageError(
            f"{path}: Multiboot header without load addresses (flag 16) and not an ELF file"
        )
    else:
        kernel = _elf(path, data)
        if header is None:
            raise GuestImageError(f"{path}: no Multiboot header in the first 8192 bytes")
    _check_fits(path, "kernel", kernel.base, len(kernel.data), ram_end)
    if not kernel.base <= kernel.entry < kernel.base + len(kernel.data):
        raise GuestImageError(
            f"{path}: entry point 0x{kernel.entry:x} is outside the loaded image "
            f"0x{kernel.base:x}-0x{kernel.base + len(kernel.data):x}"
        )
    handoff = mb.build_handoff(
        kernel.base, len(kernel.data), os.fsencode(path), cmdline.encode(), kernel.entry, mem_size
    )
    _check_fits(path, "Multiboot information", handoff.info_addr, len(handoff.info_area), ram_end)
    # QEMU hands the option ROM one buffer: the image padded to a page, then the info area.
    pad = bytes(handoff.info_addr - kernel.base - len(kernel.data))
    buf = MemoryChunk(kernel.base, kernel.data + pad + handoff.info_area)
    return BootImage(
        kind="multiboot",
        chunks=(*handoff.chunks, buf),
        entry=kernel.entry,
        gpr=handoff.gpr,
        eflags=mb.EFLAGS,
        cr0=mb.CR0,
        segments=mb.SEGMENTS,
        ldtr=mb.LDTR,
        tr=mb.TR,
        gdtr=mb.GDTR,
        idtr=mb.IDTR,
        mbi_addr=mb.MBI_ADDR,
        image_range=(kernel.base, kernel.base + len(kernel.data)),
    )


def _read(path: str) -> bytes:
    if os.path.isdir(path):
        raise GuestImageError(f"{path}: is a directory, not a guest image")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise GuestImageError(f"{path}: no such file") from None
    except OSError as e:
        raise GuestImageError(f"{path}: cannot read: {e.strerror or e}") from None
    if not data:
        raise GuestImageError(f"{path}: empty file")
    return data


def _check_fits(path: str, what: str, base: int, size: int, ram_end: int) -> None:
    if base < 0 or base + size > ram_end:
        raise GuestImageError(
            f"{path}: {what} at 0x{base:x}-0x{base + size:x} is outside guest memory "
            f"(RAM ends at 0x{ram_end:x})"
        )


def _flat(path: str, data: bytes, ram_end: int, load_addr: int, entry: int) -> BootImage:
    _check_fits(path, "flat binary", load_addr, len(data), ram_end)
    end = load_addr + len(data)
    if not load_addr <= entry < end:
        raise GuestImageError(
            f"{path}: entry point 0x{entry:x} is outside the loaded image 0x{load_addr:x}-0x{end:x}"
        )
    return BootImage(
        kind="flat",
        chunks=(MemoryChunk(mb.ROM_GDT_ADDR, mb.ROM_GDT), MemoryChunk(load_addr, data)),
        entry=entry,
        gpr=(0, 0, 0, 0, mb.ROM_STACK, 0, 0, 0),
        eflags=mb.EFLAGS,
        cr0=mb.CR0,
        segments=mb.SEGMENTS,
        ldtr=mb.LDTR,
        tr=mb.TR,
        gdtr=mb.GDTR,
        idtr=mb.IDTR,
        mbi_addr=None,
        image_range=(load_addr, end),
    )


def _u32(data: bytes, off: int) -> int:
    return int.from_bytes(data[off : off + 4], "little")


def _find_header(path: str, data: bytes) -> MultibootHeader | None:
    head = data[:8192]
    head += bytes(8192 - len(head))  # the header fields past the end read as zero
    bad_at: int | None = None
    for i in range(0, HEADER_SEARCH, 4):
        if _u32(head, i) != HEADER_MAGIC:
            continue
        flags = _u32(head, i + 4)
        if (HEADER_MAGIC + flags + _u32(head, i + 8)) & 0xFFFFFFFF == 0:
            return MultibootHeader(i, flags, *(_u32(head, i + k) for k in range(12, 32, 4)))
        if bad_at is None:
            bad_at = i
    if bad_at is not None:
        raise GuestImageError(
            f"{path}: bad Multiboot checksum in the header at offset 0x{bad_at:x}"
        )
    return None


def _aout_kludge(path: str, data: bytes, h: MultibootHeader) -> KernelImage:
    """Load by the header's addresses, with QEMU's checks (hw/i386/multiboot.c)."""
    if h.header_addr < h.load_addr:
        raise GuestImageError(f"{path}: Multiboot header_addr below load_addr")
    text_offset = h.offset - (h.header_addr - h.load_addr)
    if text_offset < 0:
        raise GuestImageError(f"{path}: Multiboot load_addr lies before the start of the file")
    if h.load_end_addr:
        if h.load_end_addr < h.load_addr:
            raise GuestImageError(f"{path}: Multiboot load_end_addr below load_addr")
        load_size = h.load_end_addr - h.load_addr
    else:
        load_size = len(data) - text_offset
    if h.bss_end_addr:
        if h.bss_end_addr < h.load_addr + load_size:
            raise GuestImageError(f"{path}: Multiboot bss_end_addr below load_end_addr")
        size = h.bss_end_addr - h.load_addr
    else:
        size = load_size
    if text_offset + load_size > len(data):
        raise GuestImageError(
            f"{path}: Multiboot load range needs 0x{text_offset + load_size:x} bytes of file, "
            f"the file has 0x{len(data):x}"
        )
    body = data[text_offset : text_offset + load_size]
    return KernelImage(h.load_addr, body + bytes(size - load_size), h.entry_addr)


def _elf(path: str, data: bytes) -> KernelImage:
    """The PT_LOAD segments of an ELF32 i386 file, laid out from the lowest to the highest."""
    if len(data) < ELF32_EHDR_SIZE:
        raise GuestImageError(f"{path}: truncated ELF header ({len(data)} bytes)")
    if data[4] == ELFCLASS64:
        raise GuestImageError(f"{path}: 64-bit ELF; give a 32-bit (ELF32 i386) kernel")
    if data[4] != ELFCLASS32:
        raise GuestImageError(f"{path}: unknown ELF class {data[4]}")
    if data[5] != ELFDATA2LSB:
        raise GuestImageError(f"{path}: big-endian ELF, not for i386")
    # The ELF32 header and program headers are read with struct: pyelftools costs ~60 ms of
    # imports, a third of bt's start-up, for two fixed-layout tables.
    (machine, _, e_entry, phoff, _, _, _, phentsize, phnum) = struct.unpack_from(
        "<HIIIIIHHH", data, 18
    )
    if machine != EM_386:
        raise GuestImageError(f"{path}: ELF file is for machine {machine}, not i386 (EM_386)")
    if phnum and phentsize < ELF32_PHDR_SIZE:
        raise GuestImageError(f"{path}: bad ELF program header size")
    if phoff + phnum * phentsize > len(data):
        raise GuestImageError(f"{path}: truncated ELF program headers")
    segments = []
    for i in range(phnum):
        fields = struct.unpack_from("<8I", data, phoff + i * phentsize)
        if fields[0] == PT_LOAD:
            segments.append((i, dict(zip(PHDR_FIELDS, fields, strict=True))))
    spans: list[tuple[int, int, int]] = []  # (start, end, segment index)
    for i, ph in segments:
        start, memsz, filesz, off = ph["p_paddr"], ph["p_memsz"], ph["p_filesz"], ph["p_offset"]
        if off + filesz > len(data):
            raise GuestImageError(
                f"{path}: ELF segment {i} file bytes 0x{off:x}-0x{off + filesz:x} lie beyond "
                f"the end of the file (0x{len(data):x} bytes)"
            )
        if filesz > memsz:
            raise GuestImageError(f"{path}: ELF segment {i} has more file bytes than memory")
        if memsz == 0:
            continue  # loads nothing, and QEMU's load_elf skips it too
        spans.append((start, start + memsz, i))
    if not spans:
        raise GuestImageError(f"{path}: ELF file has no loadable segment")
    spans.sort()
    for (_, a_end, a), (b_start, _, b) in pairwise(spans):
        if b_start < a_end:
            raise GuestImageError(f"{path}: ELF segments {a} and {b} overlap")
    low, high = spans[0][0], max(end for _, end, _ in spans)
    if high > 1 << 32:
        raise GuestImageError(f"{path}: ELF segment ends past 4 GiB (0x{high:x})")
    if not any(s <= e_entry < e for s, e, _ in spans):
        raise GuestImageError(
            f"{path}: ELF entry point 0x{e_entry:x} is not inside any loaded segment"
        )
    image = bytearray(high - low)
    for _, ph in segments:
        filesz, off = ph["p_filesz"], ph["p_offset"]
        at = ph["p_paddr"] - low
        image[at : at + filesz] = data[off : off + filesz]
    return KernelImage(low, bytes(image), e_entry)
