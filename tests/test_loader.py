"""Tests of the guest loader against the state measured on QEMU 7.2's Multiboot boot."""

import struct
from pathlib import Path

import pytest

from bt import multiboot as mb
from bt.bootimage import BootImage
from bt.errors import GuestImageError
from bt.loader import load_guest

MIB = 1 << 20
PT_LOAD = 1


def mb_header(flags: int = 0x3, extra: bytes = b"") -> bytes:
    return struct.pack("<III", 0x1BADB002, flags, (-(0x1BADB002 + flags)) & 0xFFFFFFFF) + extra


def elf32(
    segments: list[tuple[int, bytes, int]],
    entry: int,
    *,
    machine: int = 3,
    cls: int = 1,
    phentsize: int = 32,
    offsets: list[int] | None = None,
) -> bytes:
    """A minimal ELF32 executable: segments are (paddr, file bytes, memsz), data from 0x1000."""
    phoff = 52
    ehdr = b"\x7fELF" + bytes([cls, 1, 1]) + bytes(9)
    ehdr += struct.pack(
        "<HHIIIIIHHHHHH", 2, machine, 1, entry, phoff, 0, 0, 52, phentsize, len(segments), 40, 0, 0
    )
    out = bytearray(ehdr)
    pos = 0x1000
    body = bytearray()
    for n, (paddr, data, memsz) in enumerate(segments):
        off = offsets[n] if offsets else pos + len(body)
        out += struct.pack("<IIIIIIII", PT_LOAD, off, paddr, paddr, len(data), memsz, 7, 0x1000)
        body += data
    out += bytes(pos - len(out)) + body
    return bytes(out)


def kernel(
    code_size: int = 0x40, bss: int = 0x100, base: int = 0x100000, flags: int = 0x3
) -> bytes:
    text = mb_header(flags) + b"\xf4" * (code_size - 12)
    return elf32([(base, text, len(text) + bss)], base + 12)


def write(tmp_path: Path, data: bytes, name: str = "k.elf") -> str:
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


def ram(image: BootImage, size: int = 8 * MIB) -> bytearray:
    mem = bytearray(size)
    for ch in image.chunks:
        if ch.paddr + len(ch.data) <= size:
            mem[ch.paddr : ch.paddr + len(ch.data)] = ch.data
    return mem


def u32(mem: bytearray, at: int) -> int:
    return int.from_bytes(mem[at : at + 4], "little")


def cstr(mem: bytearray, at: int) -> bytes:
    return bytes(mem[at : mem.index(0, at)])


# --- the measured QEMU state -------------------------------------------------------------------


def test_entry_state_matches_qemu(tmp_path: Path) -> None:
    path = write(tmp_path, kernel())
    im = load_guest(path, 128 * MIB)
    assert im.kind == "multiboot"
    assert im.entry == 0x10000C
    # eax ecx edx ebx esp ebp esi edi as QEMU 7.2 logs them at the kernel's first instruction
    assert im.gpr == (0x2BADB002, 0x10000C, 0x00010511, 0x9500, 0x6F08, 0, 0, 0x00001000)
    assert im.eflags == 0x6 and im.cr0 == 0x11
    es, cs, ss, ds, fs, gs = im.segments
    assert (cs.selector, cs.base, cs.limit, cs.flags) == (0x08, 0, 0xFFFFFFFF, 0x00CF9A00)
    for s in (es, ss, ds, fs, gs):
        assert (s.selector, s.base, s.limit, s.flags) == (0x10, 0, 0xFFFFFFFF, 0x00CF9300)
    assert (im.ldtr.selector, im.ldtr.limit, im.ldtr.flags) == (0, 0xFFFF, 0x8200)
    assert (im.tr.selector, im.tr.limit, im.tr.flags) == (0, 0xFFFF, 0x8B00)
    assert im.gdtr == (0xCB2B8, 0x27) and im.idtr == (0, 0x3FF)
    assert im.mbi_addr == 0x9500
    mem = ram(im, 1 * MIB)
    assert mem[0xCB2B8 : 0xCB2B8 + 40].hex() == (
        "0000000000000000ffff0000009acf00ffff00000093cf00ffff0000009e0000ffff000000920000"
    )


def test_mbi_contents(tmp_path: Path) -> None:
    path = write(tmp_path, kernel(code_size=0x40, bss=0x100))
    im = load_guest(path, 128 * MIB, "hello world foo=1")
    mem = ram(im)
    mbi = 0x9500
    assert u32(mem, mbi) == 0x24F
    assert u32(mem, mbi + 4) == 639
    assert u32(mem, mbi + 8) == (128 * MIB - MIB - 0x20000) // 1024  # 129920
    assert u32(mem, mbi + 12) == 0x8000FFFF
    info = 0x100000 + 0x1000  # image 0x140 bytes -> one page, then the info area
    assert u32(mem, mbi + 16) == info
    assert cstr(mem, info) == path.encode() + b" hello world foo=1"
    assert (u32(mem, mbi + 20), u32(mem, mbi + 24)) == (0, info)
    assert (u32(mem, mbi + 44), u32(mem, mbi + 48)) == (6 * 24, 0x9000)
    assert cstr(mem, u32(mem, mbi + 64)) == b"qemu"
    assert u32(mem, mbi + 64) == info + len(path) + len(" hello world foo=1") + 1
    assert mem[mbi + 28 : mbi + 44] == bytes(16) and mem[mbi + 52 : mbi + 64] == bytes(12)
    mmap = [struct.unpack_from("<IQQI", mem, 0x9000 + 24 * n) for n in range(6)]
    assert mmap == [
        (20, 0, 0x9FC00, 1),
        (20, 0x9FC00, 0x400, 2),
        (20, 0xF0000, 0x10000, 2),
        (20, 0x100000, 0x7EE0000, 1),
        (20, 0x7FE0000, 0x20000, 2),
        (20, 0xFFFC0000, 0x40000, 2),
    ]


def test_empty_cmdline_keeps_the_space(tmp_path: Path) -> None:
    path = write(tmp_path, kernel())
    mem = ram(load_guest(path, 128 * MIB))
    assert cstr(mem, u32(mem, 0x9500 + 16)) == path.encode() + b" "


def test_memory_size_shapes_mem_upper_mmap_and_edx(tmp_path: Path) -> None:
    im = load_guest(write(tmp_path, kernel()), 256 * MIB)
    mem = ram(im)
    assert u32(mem, 0x9508) == 0x3FB80
    assert im.gpr[2] == 0x30511
    assert mb.e820_map(256 * MIB)[3] == mb.E820Entry(0x100000, 0xFEE0000, 1)
    # 3.5 GiB and more: low RAM stops at 3 GiB and the rest sits above 4 GiB (measured)
    big = mb.e820_map(3584 * MIB)
    assert big[3] == mb.E820Entry(0x100000, 0xBFEE0000, 1)
    assert big[-1] == mb.E820Entry(1 << 32, 0x20000000, 1)
    assert mb.mem_upper_kib(big) == 0x2FFB80


def test_info_area_follows_the_page_aligned_image(tmp_path: Path) -> None:
    # Two PT_LOADs with a gap; the image spans lowest to highest byte, bss included.
    text = mb_header() + b"\x90" * 0x100
    data = b"D" * 0x10
    raw = elf32([(0x200000, text, len(text)), (0x203000, data, 0x2100)], 0x20000C)
    im = load_guest(write(tmp_path, raw), 128 * MIB)
    assert im.image_range == (0x200000, 0x205100)
    assert im.gpr[7] == 0x00002000  # bswap32(load address)
    assert u32(ram(im), 0x9500 + 16) == 0x206000
    buf = im.chunks[-1]
    assert buf.paddr == 0x200000 and len(buf.data) == 0x7000
    assert buf.data[: len(text)] == text and buf.data[0x3000:0x3010] == data
    assert buf.data[0x3010:0x6000] == bytes(0x2FF0)


def test_mbi_is_written_before_the_kernel(tmp_path: Path) -> None:
    im = load_guest(write(tmp_path, kernel()), 128 * MIB)
    assert [c.paddr for c in im.chunks] == [0xCB2B8, 0x9500, 0x9000, 0x100000]


def test_video_flag_is_accepted_like_qemu(tmp_path: Path) -> None:
    assert load_guest(write(tmp_path, kernel(flags=0x7)), 128 * MIB).entry == 0x10000C


def test_aout_kludge(tmp_path: Path) -> None:
    hdr = mb_header(
        0x10003, struct.pack("<IIIII", 0x100000, 0x100000, 0x100030, 0x100100, 0x100020)
    )
    raw = hdr + b"\xf4" * 0x40
    im = load_guest(write(tmp_path, raw, "k.bin"), 128 * MIB)
    assert im.image_range == (0x100000, 0x100100) and im.entry == 0x100020
    assert im.chunks[-1].data[:0x30] == raw[:0x30]
    assert im.chunks[-1].data[0x30:0x100] == bytes(0xD0)


def test_flat_binary(tmp_path: Path) -> None:
    path = write(tmp_path, b"\x90" * 16 + b"\xf4", "f.bin")
    im = load_guest(path, 16 * MIB, load_addr=0x7C00, entry=0x7C10)
    assert im.kind == "flat" and im.mbi_addr is None and im.entry == 0x7C10
    assert im.chunks[-1].paddr == 0x7C00 and im.image_range == (0x7C00, 0x7C11)
    assert im.gpr == (0, 0, 0, 0, 0x6F08, 0, 0, 0)
    assert load_guest(path, 16 * MIB, load_addr=0x1000).entry == 0x1000


# --- bad input ---------------------------------------------------------------------------------


def expect(path: str, fragment: str, mem: int = 128 * MIB, **kw: int) -> None:
    with pytest.raises(GuestImageError) as info:
        load_guest(path, mem, **kw)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "\n" not in msg and path in msg and fragment in msg, msg


def test_missing_directory_empty(tmp_path: Path) -> None:
    expect(str(tmp_path / "nope.elf"), "no such file")
    expect(str(tmp_path), "directory")
    expect(write(tmp_path, b""), "empty")


def test_unreadable(tmp_path: Path) -> None:
    import os

    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    p = write(tmp_path, kernel())
    os.chmod(p, 0)
    expect(p, "cannot read")


def test_not_elf_not_multiboot(tmp_path: Path) -> None:
    expect(write(tmp_path, b"hello, world" * 10), "not a Multiboot kernel or ELF file")


def test_elf_class_machine_truncation(tmp_path: Path) -> None:
    good = kernel()
    expect(write(tmp_path, elf32([(0x100000, mb_header(), 12)], 0x100000, cls=2)), "64-bit")
    expect(write(tmp_path, elf32([(0x100000, mb_header(), 12)], 0x100000, machine=40)), "not i386")
    expect(write(tmp_path, good[:30]), "truncated ELF header")
    expect(write(tmp_path, good[:60]), "truncated ELF program headers")


def test_segment_beyond_file(tmp_path: Path) -> None:
    raw = elf32([(0x100000, mb_header() + b"\xf4" * 20, 0x100)], 0x10000C, offsets=[0x1000])
    expect(write(tmp_path, raw[:0x1010]), "beyond the end of the file")


def test_segment_outside_memory(tmp_path: Path) -> None:
    expect(write(tmp_path, kernel(base=0x100000, bss=4 * MIB)), "outside guest memory", 4 * MIB)
    text = mb_header() + b"\xf4" * 4
    raw = elf32([(0xFFFFFF00, text, 0x200)], 0xFFFFFF0C)
    expect(write(tmp_path, raw), "4 GiB")


def test_overlapping_segments(tmp_path: Path) -> None:
    text = mb_header() + b"\xf4" * 4
    raw = elf32([(0x100000, text, 0x100), (0x100080, b"x" * 4, 0x10)], 0x10000C)
    expect(write(tmp_path, raw), "overlap")


def test_no_header_and_bad_checksum(tmp_path: Path) -> None:
    raw = elf32([(0x100000, b"\xf4" * 32, 32)], 0x100000)
    expect(write(tmp_path, raw), "no Multiboot header in the first 8192 bytes")
    late = elf32([(0x100000, b"\xf4" * 0x2000 + mb_header(), 0x3000)], 0x100000)
    expect(write(tmp_path, late), "no Multiboot header")
    bad = bytearray(kernel())
    bad[0x1008] ^= 1
    expect(write(tmp_path, bytes(bad)), "bad Multiboot checksum")


def test_entry_outside_segments(tmp_path: Path) -> None:
    text = mb_header() + b"\xf4" * 4
    expect(
        write(tmp_path, elf32([(0x100000, text, 0x100)], 0x200000)), "not inside any loaded segment"
    )


def test_flat_does_not_fit_or_bad_entry(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xf4" * 0x100, "f.bin")
    expect(path, "outside guest memory", 2 * MIB, load_addr=2 * MIB - 0x80)
    expect(path, "entry point 0x2000 is outside", load_addr=0x1000, entry=0x2000)


def test_malformed_elf_from_pyelftools(tmp_path: Path) -> None:
    raw = bytearray(kernel())
    struct.pack_into("<H", raw, 42, 8)  # e_phentsize too small for an ELF32 program header
    expect(write(tmp_path, bytes(raw)), "program header size")
    raw = bytearray(kernel())
    struct.pack_into("<I", raw, 32, 0x7FFFFFF0)  # e_shoff far away: pyelftools must not leak
    struct.pack_into("<H", raw, 48, 3)
    im_or_err: object
    try:
        im_or_err = load_guest(write(tmp_path, bytes(raw)), 128 * MIB)
    except GuestImageError as e:
        im_or_err = e
    assert isinstance(im_or_err, (BootImage, GuestImageError))
