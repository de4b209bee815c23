"""MmioStop: where execution goes on after a device write stopped the CPU at its instruction
(bt/mmio.py), so that the interrupt the write made deliverable is taken right after it."""

from __future__ import annotations

from bt.blockmaker import BlockMaker
from bt.budget import BudgetStop
from bt.cache.cache import TranslationCache
from bt.errors import TranslationError
from bt.mmio import MmioDevices
from bt.runresult import EXIT_CRASH, RunResult
from bt.runstate import RunState
from bt.types import CodeAddr


class MmioStop:
    """Runs the writing instruction again alone (its write dropped once), whose exit delivers
    the interrupt at the next instruction boundary (bt/hookexit.py `go`)."""

    def __init__(
        self,
        mmio: MmioDevices,
        cache: TranslationCache,
        maker: BlockMaker,
        budget: BudgetStop,
        state: RunState,
    ) -> None:
        self.mmio = mmio
        self.cache = cache
        self.maker = maker
        self.budget = budget
        self.state = state

    def pending(self) -> bool:
        """Whether the last run stopped for a device write."""
        return self.mmio.stopped

    def resume(self, code_addr: CodeAddr) -> CodeAddr | RunResult:
        """The CPU stands at `code_addr`, the start of the writing instruction's host code."""
        self.mmio.stopped = False
        tb = self.cache.block_at(code_addr)
        eip = tb.guest_eip_starting_at(code_addr - tb.code_addr) if tb is not None else None
        if eip is None or self.mmio.drop is None:
            # Inside one guest instruction's translation (or the write was repeated already):
            # go on at the host instruction, and take the interrupt at the next boundary.
            return self.budget.stopped(code_addr, idle=False)
        self.state.eip = eip
        try:
            one = self.maker.one_shot(eip)
        except TranslationError as exc:
            return RunResult("crash", EXIT_CRASH, str(exc), eip)
        self.state.eip = one.key.eip
        return one.code_addr
