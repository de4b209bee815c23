"""SmcHandler: self-modifying code: writes to guest pages that hold translated code."""

from __future__ import annotations

from bt.blockmaker import BlockMaker
from bt.cache.cache import TranslationCache
from bt.engine import Engine
from bt.errors import InternalError
from bt.runstate import RunState
from bt.types import CodeAddr


class SmcHandler:
    """Retires the blocks of a written page; the writing instruction re-runs alone."""

    def __init__(
        self, engine: Engine, cache: TranslationCache, maker: BlockMaker, state: RunState
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.maker = maker
        self.state = state

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
        self.engine.view.protect_page(page, False)
        self.state.eip = eip
        one = self.maker.one_shot(eip)
        self.state.eip = one.key.eip
        return one.code_addr
