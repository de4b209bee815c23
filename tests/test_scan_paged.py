"""The scanner under guest paging: a block ends with its linear page, an instruction that
straddles into the next page is a block of its own, and the next page is fetched only then."""

from __future__ import annotations

import pytest

from bt.paging import PageFault
from bt.translator.scanner import Scanner

BASE = 0x40_0000  # the block's linear page


class TwoPages:
    """Guest code on the page at BASE and the one after it; the second may be unmapped."""

    def __init__(self, first: bytes, second: bytes | None) -> None:
        self.pages = {BASE: first.ljust(0x1000, b"\x90"), BASE + 0x1000: second}
        self.fetched: list[tuple[int, int]] = []

    def fetch_code(self, linear: int, size: int) -> bytes:
        self.fetched.append((linear, size))
        out = bytearray()
        addr = linear
        while len(out) < size:
            page = addr & ~0xFFF
            data = self.pages.get(page)
            if data is None:
                raise PageFault(addr, 0)  # the fetch reaches an unmapped page
            n = min(size - len(out), 0x1000 - (addr & 0xFFF))
            out += data.ljust(0x1000, b"\x90")[addr & 0xFFF : (addr & 0xFFF) + n]
            addr += n
        return bytes(out)


def _code_ending_with(tail: bytes) -> bytes:
    """NOPs up to the end of the first page, then `tail` placed so it ends there or crosses."""
    return b"\x90" * (0x1000 - len(tail)) + tail


def test_a_block_ends_with_its_page() -> None:
    src = TwoPages(b"\x90" * 0x1000, b"\x90" * 16)
    block = Scanner().scan(src, 0, BASE + 0xFF8, paged=True)
    assert block.end_reason == "page"
    assert [i.eip for i in block.insns] == list(range(BASE + 0xFF8, BASE + 0x1000))
    assert all(lin + size <= BASE + 0x1000 for lin, size in src.fetched)  # never looked past


def test_unpaged_blocks_go_on_across_pages() -> None:
    src = TwoPages(b"\x90" * 0x1000, b"\x90" * 0x1000)
    block = Scanner().scan(src, 0, BASE + 0xFF8)
    assert block.end_reason == "limit" and len(block.insns) == 64


def test_a_straddling_instruction_ends_the_block_before_it() -> None:
    # NOPs, then mov eax, imm32 (5 bytes) starting 3 bytes before the page end.
    first = _code_ending_with(b"\x90\x90\xb8\x11\x22")
    src = TwoPages(first, b"\x33\x44\x90")
    block = Scanner().scan(src, 0, BASE + 0xFFA, paged=True)
    assert block.end_reason == "page"
    assert [i.eip for i in block.insns] == [BASE + 0xFFA, BASE + 0xFFB, BASE + 0xFFC]
    assert all(lin + size <= BASE + 0x1000 for lin, size in src.fetched)


def test_a_straddling_instruction_is_a_block_of_its_own() -> None:
    first = _code_ending_with(b"\xb8\x11\x22")
    src = TwoPages(first, b"\x33\x44\x90\x90")
    block = Scanner().scan(src, 0, BASE + 0xFFD, paged=True)
    assert [i.raw for i in block.insns] == [b"\xb8\x11\x22\x33\x44"]
    assert block.end_reason == "page"  # the next instruction, on the next page, is not in it


def test_a_straddle_into_an_unmapped_page_faults_at_that_page() -> None:
    first = _code_ending_with(b"\xb8\x11\x22")
    with pytest.raises(PageFault) as got:
        Scanner().scan(TwoPages(first, None), 0, BASE + 0xFFD, paged=True)
    assert got.value.linear == BASE + 0x1000  # CR2: the first byte on the missing page


def test_code_before_an_unmapped_page_runs_first() -> None:
    # The block before the straddling instruction translates without touching the next page.
    first = _code_ending_with(b"\x40\x41\xb8\x11\x22")
    block = Scanner().scan(TwoPages(first, None), 0, BASE + 0xFFB, paged=True)
    assert [i.raw for i in block.insns] == [b"\x40", b"\x41"] and block.end_reason == "page"
