"""Unit tests of the translation cache: insertion, lookup, chaining, invalidation, flush."""

from __future__ import annotations

from bt.cache.block import TBKey
from bt.cache.cache import TranslationCache
from bt.cache.codebuf import CodeBuffer
from bt.translator.assembler import Assembler
from bt.translator.records import TranslatedCode
from bt.translator.rewriter import Rewriter
from bt.translator.scanner import Scanner

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
    cache = TranslationCache(
        w, CodeBuffer(TC, size), unchained, on_code_page=lambda p, on: events.append((p, on))
    )
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
    b = cache.insert(
        TBKey(BASE + 0x2000, 0, "pm32"), _translated(JMP_SELF, BASE), (BASE + 0x2000,), JMP_SELF
    )
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


def test_retired_block_leaves_no_record_and_its_space_is_reused() -> None:
    cache, _w, events = _cache()
    keep = cache.insert(TBKey(BASE + 0x100, 0, "pm32"), _translated(JMP_SELF), (BASE,), JMP_SELF)
    addrs = set()
    for _ in range(1000):  # a self-modifying loop: the same block retired and made again
        tb = cache.insert(TBKey(BASE, 0, "pm32"), _translated(JMP_SELF), (BASE,), JMP_SELF)
        addrs.add(tb.code_addr)
        cache.invalidate(tb, "guest write")
        assert cache.block_at(tb.code_addr) is None
        assert cache.exit_at(tb.exits[0].address + 2) is None
    assert len(addrs) == 1  # one code address served all 1000 translations
    s = cache.stats()
    assert s.blocks == 1 and s.flushes == 0
    assert cache.blocks() == [keep] and cache.block_at(keep.code_addr) is keep
    assert len(cache.history) == cache.HISTORY  # bounded, like everything kept per event
    assert s.host_bytes == keep.size + 700 + 600 * len(keep.insns)


def test_host_budget_flushes_before_the_code_region_is_full() -> None:
    w = FakeWriter()
    unchained = Rewriter(Assembler()).exit_slot
    one = _translated(JMP_SELF)
    cost = len(one.code) + 700 + 600 * len(one.insns)
    cache = TranslationCache(w, CodeBuffer(TC, 1 << 20), unchained, host_budget=cost * 10)
    flushed = []
    cache.on_flush.append(lambda: flushed.append(True))
    blocks = [cache.insert(TBKey(BASE + i, 0, "pm32"), one, (BASE,), JMP_SELF) for i in range(25)]
    s = cache.stats()
    assert len(flushed) == 2 and s.flushes == 2
    assert s.blocks == 5 and s.host_bytes == 5 * cost <= s.host_budget
    assert all(not tb.valid for tb in blocks[:20]) and all(tb.valid for tb in blocks[20:])
    assert cache.lookup(TBKey(BASE, 0, "pm32")) is None
    assert w.flushed == TC


def test_chaining_only_within_one_key_shape_and_under_paging_within_a_page() -> None:
    cache, _w, _e = _cache(size=1 << 16)

    def block(eip: int, **key: int) -> object:
        return cache.insert(
            TBKey(eip, 0, "pm32", **key), _translated(JMP_SELF, eip), (eip & ~0xFFF,), JMP_SELF
        )

    a = block(BASE)
    assert not cache.chain(a, 0, block(BASE + 0x10, variant=5))  # other virtual state
    assert cache.chain(a, 0, block(BASE + 0x5000))  # paging off: any page
    p = block(BASE, phys_page=0x7000, max_insns=63)
    assert not cache.chain(p, 0, block(BASE + 0x1000, phys_page=0x9000))  # another page
    assert cache.chain(p, 0, block(BASE + 0x800, phys_page=0x7000))  # the same page


def test_key_modes_and_labels() -> None:
    import pytest

    assert TBKey(BASE, 0, "real").cpu_mode.code_bits == 16
    assert not TBKey(BASE, 0, "v86").cpu_mode.protected
    assert TBKey(BASE, 0x1000, "pm32", variant=0x1F, phys_page=0x3000).label == "pm32:1f@3000"
    assert TBKey(0xFFFFF000, 0x2000, "pm32").linear == 0x1000  # wraps at 4 GiB
    with pytest.raises(ValueError):
        TBKey(BASE, 0, "pm64")
