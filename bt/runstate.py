"""RunState: what the run loop's parts share while the guest runs (position, stop request)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bt.cache.block import TranslationBlock
from bt.exits import VcpuExit
from bt.runresult import Counters, RunResult


@dataclass(slots=True)
class RunState:
    """The mutable state of one run, owned by the RunLoop and handed to its parts."""

    eip: int  # guest EIP of the block the monitor last sent execution to
    # Set from inside a hook to end the current emu_start: an exit for the loop, or the end.
    stop: VcpuExit | RunResult | None = None
    counters: Counters = field(default_factory=Counters)
    # The block whose callout is running, and whether that callout wrote over it.
    current: TranslationBlock | None = None
    current_hit: bool = False
    shadow_slice: int = -1  # the emu_start in which the current STI/MOV SS shadow began
    deferred: bool = False  # the backstop found an interrupt due inside one instruction
    # A breakpoint instruction EFLAGS.RF let run (alone, in a one-instruction block): RF
    # clears when the monitor next sees another instruction boundary (bt/hookexit.py).
    rf_at: int | None = None

    def request_stop(self, why: VcpuExit | RunResult) -> None:
        """Remember why the CPU must stop (the caller stops the engine)."""
        self.stop = why
