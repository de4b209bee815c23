"""BlockMaker: the TranslationBlock for a guest EIP: from the cache, the store, or translated."""

from __future__ import annotations

from collections.abc import Sequence

from bt.cache.block import TBKey, TranslationBlock
from bt.cache.cache import TranslationCache
from bt.keypolicy import KeyPolicy
from bt.limits import Limits
from bt.memory import GuestMemory
from bt.storelookup import GuestBytes, StoreLookup
from bt.translator.records import TranslatedCode
from bt.translator.rewriter import Rewriter
from bt.translator.scanner import Scanner


class BlockMaker:
    """Looks blocks up by key and translates them on a miss (QEMU's tb_gen_code)."""

    def __init__(
        self,
        mem: GuestMemory,
        cache: TranslationCache,
        scanner: Scanner,
        rewriter: Rewriter,
        keys: KeyPolicy,
        store: StoreLookup | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.mem = mem
        self.cache = cache
        self.scanner = scanner
        self.rewriter = rewriter
        self.keys = keys
        self.store = store
        self.limits = limits

    def block_for(self, eip: int) -> TranslationBlock:
        """The block for guest `eip` in the current code segment, translated on a miss."""
        key = self.keys.key(eip)
        tb = self.cache.lookup(key)
        if tb is None:
            tb = self.translate(key, watch=True)
        return tb

    def one_shot(self, eip: int) -> TranslationBlock:
        """A block holding only the instruction at `eip` (it runs alone: an SMC re-run, the
        end of an interrupt shadow). It watches no page; the next one made for this EIP
        replaces it."""
        one = self.translate(self.keys.key(eip, 1), watch=False)
        one.entries += 1
        return one

    def translate(self, key: TBKey, watch: bool) -> TranslationBlock:
        """Translate (or take from the store) and insert the block for `key`; `watch`: its
        guest pages are watched for writes. Checks the limits first: a guest that only ever
        reaches new code (a jump into zeroed memory) spends its time here."""
        if self.limits is not None:
            self.limits.check()
        code = self._from_store(key)
        if code is None:
            scanned = self.scanner.scan(self.mem, key.cs_base, key.eip, key.max_insns)
            code = self.rewriter.rewrite(scanned, key.cs_base, self.keys.bake_for(key))
            if self.store is not None:
                self.store.put(key, code)
        pages = self.mem.phys_pages(code.guest_ranges) if watch else ()
        raw = b"".join(r.insn.raw for r in code.insns)
        return self.cache.insert(key, code, pages, raw)

    def _from_store(self, key: TBKey) -> TranslatedCode | None:
        if self.store is None:
            return None
        code = self.store.find(key, self.keys.assumed())
        if code is not None:
            self.cache.reused += 1
        return code


def guest_bytes_of(mem: GuestMemory) -> GuestBytes:
    """The store's view of guest memory: the bytes of a list of [start, end) ranges."""

    def read(ranges: Sequence[Sequence[int]]) -> bytes:
        return b"".join(mem.read(a, b - a) for a, b in ranges)

    return read
