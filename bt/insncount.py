"""InsnCounter: exact guest instruction counts (a Python block hook: for limits and measurement)."""

from __future__ import annotations

import bisect
from collections import Counter

from unicorn import UC_HOOK_BLOCK

from bt.cache.block import TranslationBlock
from bt.cache.cache import TranslationCache
from bt.engine import Engine
from bt.layout import TC_LINEAR, TC_SIZE
from bt.runresult import EXIT_LIMIT, RunResult
from bt.runstate import RunState
from bt.types import CodeAddr


class InsnCounter:
    """Counts the guest instructions of every executed block and stops at `max_insns`."""

    def __init__(self, engine: Engine, cache: TranslationCache, state: RunState) -> None:
        self.engine = engine
        self.cache = cache
        self.state = state
        self.count = 0
        self.max_insns: int | None = None
        self.executions: Counter[int] = Counter()  # block code address -> runs
        engine.uc.hook_add(UC_HOOK_BLOCK, self._on_block, None, TC_LINEAR, TC_LINEAR + TC_SIZE - 1)
        cache.on_retire.append(self._retired)
        cache.on_flush.append(self.executions.clear)
        self._last: tuple[TranslationBlock, int, int] | None = None  # the last block counted
        engine.on_retry.append(self._retried)

    def _retired(self, tb: TranslationBlock) -> None:
        self.executions.pop(tb.code_addr, None)  # the address may hold another block next

    def _retried(self, code_addr: int) -> None:
        """Unicorn runs again from `code_addr` (a shadow fill): the instructions from there to
        the end of the block counted last did not run yet, and will be counted again."""
        last = self._last
        if last is None:
            return
        tb, address, size = last
        if not address <= code_addr < address + size:
            return
        offs = [r.offset for r in tb.insns]
        lo = bisect.bisect_left(offs, code_addr - tb.code_addr)
        hi = bisect.bisect_left(offs, address - tb.code_addr + size)
        self.count -= hi - lo
        self._last = None

    def _on_block(self, uc: object, address: int, size: int, _ud: object) -> None:
        code = CodeAddr(address)  # Unicorn hands over a plain int
        tb = self.cache.block_at(code)
        if tb is None:
            return
        offs = [r.offset for r in tb.insns]
        lo = bisect.bisect_left(offs, address - tb.code_addr)
        hi = bisect.bisect_left(offs, address - tb.code_addr + size)
        self.count += hi - lo
        self._last = (tb, address, size)
        if address == tb.code_addr:
            self.executions[address] += 1
        if self.max_insns is not None and self.count >= self.max_insns:
            self.state.request_stop(
                RunResult(
                    "limit",
                    EXIT_LIMIT,
                    f"instruction limit reached ({self.max_insns})",
                    tb.guest_eip_at(code),
                )
            )
            self.engine.stop()
