"""BlockMaker: the TranslationBlock for a guest EIP: from the cache, the store, or translated."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bt.cache.block import MODES, TBKey, TranslationBlock
from bt.cache.cache import TranslationCache
from bt.errors import TranslationError
from bt.keypolicy import KeyPolicy
from bt.layout import ZERO_LINEAR
from bt.limits import Limits
from bt.memory import GuestMemory
from bt.paging import PageFault
from bt.storelookup import GuestBytes, StoreLookup
from bt.translator.records import TranslatedCode
from bt.translator.rewriter import Rewriter
from bt.translator.scanner import ScannedBlock, Scanner


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
        # Delivers a fetch's #PF and returns the handler's EIP (raises TranslationError on
        # a triple fault); the builder sets it.
        self.on_fetch_fault: Callable[[PageFault, int], int] | None = None
        # The built-in BIOS's service entry points: guest-linear address -> vector (real mode:
        # a block starting at one is the service's callout, bt/callouts/bios.py).
        self.services: dict[int, int] | None = None
        # Its 32-bit entries (bt/bios/pcibios32.py): guest-physical address -> vector. Far
        # called from protected mode through the caller's own segments and paging, so a block
        # is one when its first byte maps there.
        self.protected_services: dict[int, int] | None = None
        # An instruction breakpoint at (linear, eip): the #DB handler's EIP, or None when
        # EFLAGS.RF lets the instruction run (the builder sets it).
        self.on_breakpoint: Callable[[int, int], int | None] | None = None

    def block_for(self, eip: int) -> TranslationBlock:
        """The block for guest `eip` in the current code segment, translated on a miss.

        Under guest paging the fetch may fault: the #PF is delivered and the block returned
        is the handler's (its key's EIP says where execution goes on)."""
        while True:
            try:
                key = self.keys.key(eip)
                tb = self.cache.lookup(key)
                if tb is not None and tb.second_page is not None and not self._maps(tb):
                    self.cache.invalidate(tb, "second page remapped")
                    tb = None
                if tb is None:
                    tb = self.translate(key, watch=True)
                if key.linear in self.cache.entry_checks and self.on_breakpoint is not None:
                    hit = self.on_breakpoint(key.linear, eip)
                    if hit is None:
                        return self.one_shot(eip)  # it runs alone, then RF clears
                    eip = hit  # the #DB handler's
                    continue
                return tb
            except PageFault as fault:
                eip = self._fetch_fault(fault, eip)

    def one_shot(self, eip: int) -> TranslationBlock:
        """A block holding only the instruction at `eip` (it runs alone: an SMC re-run, the
        end of an interrupt shadow). It watches no page; the next one made for this EIP
        replaces it. A fetch fault goes to the guest's handler, as in `block_for`."""
        try:
            one = self.translate(self.keys.key(eip, 1), watch=False)
        except PageFault as fault:
            return self.block_for(self._fetch_fault(fault, eip))
        one.entries += 1
        return one

    def _maps(self, tb: TranslationBlock) -> bool:
        """Whether the page a straddling block reaches into still maps where it did."""
        mmu = self.mem.mmu
        second = tb.second_page
        if mmu is None or second is None:
            return True
        return mmu.code_page(second) == tb.guest_pages[-1]

    def _fetch_fault(self, fault: PageFault, eip: int) -> int:
        """Deliver the #PF of a fetch at `eip`; the handler's EIP."""
        if self.on_fetch_fault is None:
            raise TranslationError(f"page fault fetching code at 0x{fault.linear:08x}")
        return self.on_fetch_fault(fault, eip)

    def translate(self, key: TBKey, watch: bool) -> TranslationBlock:
        """Translate (or take from the store) and insert the block for `key`; `watch`: its
        guest pages are watched for writes. Checks the limits first: a guest that only ever
        reaches new code (a jump into zeroed memory) spends its time here."""
        if self.limits is not None:
            self.limits.check()
        code = self._from_store(key)
        if code is not None and self._mixed(code.guest_ranges):
            code = None  # made without the self-check its page now needs
        if code is None:
            code16 = MODES[key.mode].code_bits == 16
            mixed = key.phys_page < 0 and bool(self.mem.mixed_pages)  # any mixed page at all
            split = mixed and self._mixed(((key.linear, key.linear + 1),))
            scanned = self._scan(key, code16, split)
            checked = mixed and self._mixed(
                tuple((i.linear, i.linear + i.size) for i in scanned.insns)
            )
            if checked and not split:
                scanned = self._scan(key, code16, True)  # it runs into a mixed page
            code = self.rewriter.rewrite(
                scanned,
                key.cs_base,
                self.keys.bake_for(key),
                code16=code16,
                check_zero=ZERO_LINEAR if checked else None,
                real_mode=not MODES[key.mode].protected,
            )
            if self.store is not None and not checked:
                self.store.put(key, code)
        pages = self.mem.phys_pages(code.guest_ranges) if watch else ()
        raw = b"".join(r.insn.guest_bytes for r in code.insns)
        return self.cache.insert(key, code, pages, raw)

    def _scan(self, key: TBKey, code16: bool, split: bool) -> ScannedBlock:
        return self.scanner.scan(
            self.mem,
            key.cs_base,
            key.eip,
            key.max_insns,
            paged=key.phys_page >= 0,
            stops=self.cache.entry_checks,
            code16=code16,
            split_stores=split,
            services=self._protected_entry(key) if MODES[key.mode].protected else self.services,
        )

    def _protected_entry(self, key: TBKey) -> dict[int, int] | None:
        """{linear: vector} when `key`'s block starts at a 32-bit BIOS entry, else None."""
        table = self.protected_services
        if not table:
            return None
        vector = table.get(self.mem.probe(key.linear) or -1)
        return None if vector is None else {key.linear: vector}

    def _mixed(self, ranges: tuple[tuple[int, int], ...]) -> bool:
        """Whether guest bytes `ranges` (linear, paging off) touch a mixed page (bt/smc.py)."""
        mixed = self.mem.mixed_pages
        if not mixed:
            return False
        return any(p in mixed for a, b in ranges for p in range(a & ~0xFFF, b, 0x1000))

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
        return b"".join(mem.peek(a, b - a) for a, b in ranges)

    return read
