"""Unit tests of the translation cache: insertion, lookup, chaining, invalidation, flush."""

from __future__ import annotations

from cache.block import TBKey
from cache.cache import TranslationCache
from cache.codebuf import CodeBuffer
from translator.assembler import Assembler
from translator.rewriter import Rewriter, TranslatedCode
from translator.scanner import Scanner

BASE = 0x100000
TC = 0xE0000000


class FakeWriter:
    """Records code writes into a dict-backed code region."""

    def __init__(self) -> None:
        self.mem: dict[int, int] = {}
        self.writes = 0

    def write_code(self, addr: int, data: bytes) -> None:
        self.writes += 1
        for i, b in enumerate(data):
            self.mem[addr + i] = b

    def code_flushed(self, start: int) -> None:
        self.flushed = start

    def read(self, addr: int, n: int) -> bytes:
        return bytes(self.mem.get(addr + i, 0) for i in range(n))


class Src:
    def __init__(self, code: bytes) -> None:
        self.code = code

    def fetch_code(self, linear: int, size: int) -> bytes:
        return self.code[linear - BASE : linear - BASE + size]


def _translated(code: bytes, eip: int = BASE) -> TranslatedCode:
    rw = Rewriter(Assembler())
    return rw.rewrite(Scanner().scan(Src(code + b"\x90" * 16), 0, eip), 0)


def _cache(size: int = 4096) -> tuple[TranslationCache, FakeWriter, list[tuple[int, bool]]]:
    w = FakeWriter()
    events: list[tuple[int, bool]] = []
    unchained = Rewriter(Assembler()).exit_slot
    cache = TranslationCache(w, CodeBuffer(TC, size), unchained,
                             on_code_page=lambda p, on: events.append((p, on)))
    return cache, w, events


JMP_SELF = b"\xeb\xfe"  # jmp $


def test_insert_and_lookup_counts_hits() -> None:
    cache, w, events = _cache()
    key = TBKey(BASE, 0, "pm32")
    assert cache.lookup(key) is None
    tb = cache.insert(key, _translated(JMP_SELF), (BASE,), JMP_SELF)
    assert cache.lookup(key) is tb
    s = cache.stats()
    assert (s.lookups, s.hits, s.blocks, s.translations) == (2, 1, 1, 1)
    assert events == [(BASE, True)]
    assert cache.block_at(tb.code_addr + 1) is tb
    assert cache.exit_at(tb.exits[0].address + 2) == (tb, 0)


def test_chain_patches_jump_and_invalidate_unpatches() -> None:
    cache, w, events = _cache()
    a = cache.insert(TBKey(BASE, 0, "pm32"), _translated(JMP_SELF), (BASE,), JMP_SELF)
    b = cache.insert(TBKey(BASE + 0x2000, 0, "pm32"), _translated(JMP_SELF, BASE), (BASE + 0x2000,),
                     JMP_SELF)
    assert cache.chain(a, 0, b)
    slot = a.exits[0].address
    rel = int.from_bytes(w.read(slot + 1, 4), "little", signed=True)
    assert w.read(slot, 1) == b"\xe9" and slot + 5 + rel == b.code_addr
    assert (a, 0) in b.incoming
    cache.invalidate_page(BASE + 0x2000, "test")
    assert not b.valid and a.exits[0].linked is None
    assert w.read(slot, 2) == b"\xcd\x80"  # back to a return to the monitor
    assert (BASE + 0x2000, False) in events
    assert cache.lookup(TBKey(BASE + 0x2000, 0, "pm32")) is None
    assert cache.stats().invalidations == 1


def test_chaining_off_never_links() -> None:
    cache, _w, _e = _cache()
    cache.chaining = False
    a = cache.insert(TBKey(BASE, 0, "pm32"), _translated(JMP_SELF), (BASE,), JMP_SELF)
    assert not cache.chain(a, 0, a)


def test_full_region_flushes_everything() -> None:
    cache, _w, _e = _cache(size=64)
    first = cache.insert(TBKey(BASE, 0, "pm32"), _translated(JMP_SELF), (BASE,), JMP_SELF)
    for i in range(1, 20):
        cache.insert(TBKey(BASE + i, 0, "pm32"), _translated(JMP_SELF), (BASE,), JMP_SELF)
    assert not first.valid
    assert cache.stats().flushes >= 1
    assert cache.stats().blocks >= 1
