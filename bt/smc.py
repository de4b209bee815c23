"""SmcHandler: self-modifying code: writes to guest pages that hold translated code."""

from __future__ import annotations

from unicorn import x86_const as R

from bt.blockmaker import BlockMaker
from bt.cache.cache import TranslationCache
from bt.engine import CpuException, Engine
from bt.errors import InternalError
from bt.runstate import RunState
from bt.types import CodeAddr

# Write faults on one code page after which it is left writable and its blocks check
# themselves (translator/selfcheck.py): code and often-written data share it.
MIXED_AFTER = 4


class SmcHandler:
    """Retires the blocks of a written page; the writing instruction re-runs alone. A page
    written again and again becomes "mixed": writable, its blocks self-checking (paging off:
    under guest paging the check's reads would be the guest's accesses too)."""

    def __init__(
        self, engine: Engine, cache: TranslationCache, maker: BlockMaker, state: RunState
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.maker = maker
        self.state = state
        self.faults: dict[int, int] = {}  # code page -> write faults (bounded: RAM pages)

    def monitor_wrote(self, page: int) -> None:
        """The monitor itself wrote guest `page` (a callout's store, a delivery's push)."""
        victims = self.cache.invalidate_page(page, "guest write (monitor)")
        st = self.state
        if st.current is not None and st.current in victims:
            st.current_hit = True

    def guest_wrote(self, page: int, code_addr: CodeAddr) -> CodeAddr:
        """Translated code at `code_addr` faulted writing `page`: retire the page's blocks and
        re-execute the writing instruction alone, so the following code is translated from
        the bytes as they are after the write. Returns where execution goes on."""
        self.state.counters.smc += 1
        tb = self.cache.block_at(code_addr)
        if tb is None:
            raise InternalError(f"write fault outside translated code at 0x{code_addr:08x}")
        eip = tb.guest_eip_at(code_addr)
        self.cache.invalidate_page(page, "guest write")
        view = self.engine.view
        n = self.faults[page] = self.faults.get(page, 0) + 1
        if n >= MIXED_AFTER and (view.mmu is None or not view.mmu.enabled):
            view.mixed_pages.add(page)
        view.protect_page(page, False)
        self.state.eip = eip
        one = self.maker.one_shot(eip)
        self.state.eip = one.key.eip
        return one.code_addr

    def stale(self, exc: CpuException) -> bool:
        """Whether a CPU exception is a self-checking block's #BR: its guest bytes changed."""
        if exc.vector != 5:
            return False
        tb = self.cache.block_at(exc.code_addr)
        return tb is not None and tb.code_addr <= exc.code_addr < tb.code_addr + tb.prologue

    def retranslate(self, code_addr: CodeAddr) -> CodeAddr:
        """The self-check at `code_addr` failed: ECX back from DR0 (translator/selfcheck.py),
        the block retired and made again from the bytes there now."""
        tb = self.cache.block_at(code_addr)
        assert tb is not None
        self.state.counters.smc += 1
        self.engine.write_reg(R.UC_X86_REG_ECX, self.engine.read_reg(R.UC_X86_REG_DR0))
        self.cache.invalidate(tb, "guest code changed (self-check)")
        self.state.eip = tb.key.eip
        fresh = self.maker.block_for(tb.key.eip)
        self.state.eip = fresh.key.eip
        return fresh.code_addr
