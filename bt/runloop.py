"""RunLoop: execute translated code, then act on why the CPU stopped, until the run ends.

The loop itself is a small match over why `emu_start` returned; each reason is handled by the
part named after it (bt/hookexit.py handles exits without leaving `emu_start`, bt/halt.py HLT,
bt/smc.py self-modifying writes, bt/budget.py backstop stops, bt/events.py deliveries, and
bt/limits.py the limits). The builder (bt/machine.py) wires them.
"""

from __future__ import annotations

import time
from collections import Counter

from unicorn import x86_const as R

from bt.blockmaker import BlockMaker
from bt.budget import BudgetStop
from bt.cache.cache import TranslationCache
from bt.csbias import unbias
from bt.engine import Engine
from bt.errors import InternalError, TranslationError
from bt.events import EventDelivery
from bt.exits import ERROR_CODE_VECTORS, Fault, Halt, Shutdown, Unsupported, VcpuExit
from bt.halt import HaltWait
from bt.hookexit import ExitDispatch
from bt.insncount import InsnCounter
from bt.irq import BACKSTOP_BLOCKS
from bt.limits import LimitReached, Limits
from bt.mmiostop import MmioStop
from bt.paging import PageFault
from bt.runresult import EXIT_CRASH, RunResult, RunStats
from bt.runstate import RunState
from bt.smc import SmcHandler
from bt.types import CodeAddr


class RunLoop:
    """Runs the guest from its current state until it halts, stops, crashes or hits a limit."""

    def __init__(
        self,
        engine: Engine,
        cache: TranslationCache,
        maker: BlockMaker,
        dispatch: ExitDispatch,
        events: EventDelivery,
        halt: HaltWait,
        smc: SmcHandler,
        budget: BudgetStop | None,
        limits: Limits,
        state: RunState,
        counter: InsnCounter | None = None,
    ) -> None:
        self.engine = engine
        self.cache = cache
        self.maker = maker
        self.dispatch = dispatch
        self.events = events
        self.halt = halt
        self.smc = smc
        self.budget = budget
        self.mmio_stop: MmioStop | None = None  # a device write stopped the CPU (bt/mmio.py)
        self.limits = limits
        self.state = state
        self.counter = counter
        self._wall = 0.0
        engine.on_guest_fault = self._page_fault_in_hook

    def run(self, max_insns: int | None = None, timeout: float | None = None) -> RunResult:
        """Run until the guest halts, asks to stop, crashes, or a limit is reached."""
        if max_insns is not None and self.counter is None:
            raise InternalError("an instruction limit needs the instruction counter")
        if self.counter is not None:
            self.counter.max_insns = max_insns
        start = time.monotonic()
        self.limits.start(timeout)
        try:
            return self._loop()
        except LimitReached as why:
            return RunResult(self.limits.kind(), self.limits.status(), str(why), self.state.eip)
        finally:
            self.limits.finish()
            self._wall += time.monotonic() - start

    def attach_counter(self, counter: InsnCounter) -> None:
        """Count guest instructions from now on (needed by an instruction limit)."""
        self.counter = counter

    @property
    def executions(self) -> Counter[int]:
        """Runs of each live block by code address (empty unless instructions are counted)."""
        return self.counter.executions if self.counter is not None else Counter()

    def request_shutdown(self, status: int, reason: str) -> None:
        """Stop the CPU after the current instruction with process status `status`."""
        self.state.request_stop(Shutdown(status, reason))
        self.engine.stop()

    def _loop(self) -> RunResult:
        eng, st = self.engine, self.state
        try:
            first = self.maker.block_for(st.eip)
            st.eip, code_addr = first.key.eip, first.code_addr
        except TranslationError as exc:
            return RunResult("crash", EXIT_CRASH, str(exc), st.eip)
        budget = BACKSTOP_BLOCKS
        while True:
            why = self.limits.reached()
            if why is not None:
                return RunResult(
                    self.limits.kind(), self.limits.status(), why, self._guest_eip(code_addr)
                )
            st.stop = None
            st.counters.emu_starts += 1
            # Accesses the native port hook answered stand for callouts (bt/portfast.py).
            entries = st.counters.callouts + eng.native_io.answered + eng.view.mmio_accesses
            self.dispatch.push_if()
            eng.sync_control(self.events.vcpu.cr2, self.events.vcpu.cr3)
            try:
                eng.run(code_addr, budget)
            finally:
                self.dispatch.pull_if()
            budget = BACKSTOP_BLOCKS
            nxt: CodeAddr | RunResult
            if st.stop is not None:
                nxt = self._stopped(st.stop)
            elif eng.view.denied is not None:
                denied = eng.view.denied
                unbias(self.cache, eng, denied.code_addr)  # CS-biased ESI/EBX back first
                nxt = self.smc.guest_wrote(denied.page, denied.code_addr)
            elif eng.exception is not None and self.smc.stale(eng.exception):
                self.engine.forget_exception()
                nxt = self.smc.retranslate(eng.exception.code_addr)
            elif eng.exception is not None:
                unbias(self.cache, eng, eng.exception.code_addr)
                nxt = self._cpu_exception(eng.exception.vector, eng.exception.code_addr)
            elif self.mmio_stop is not None and self.mmio_stop.pending():
                nxt = self.mmio_stop.resume(CodeAddr(eng.read_reg(R.UC_X86_REG_EIP)))
            else:
                # The backstop's budget ran out, at the start of a Unicorn block (or, with the
                # fallback instruction count, at any instruction).
                st.counters.backstops += 1
                nxt = CodeAddr(eng.read_reg(R.UC_X86_REG_EIP))
                if self.dispatch.watch.pending:
                    # Copied code hit a data breakpoint and tripped the backstop: the #DB
                    # trap at this block start, or at the next one (bt/watchpoints.py).
                    trapped = self.dispatch.watch_stop(nxt)
                    if trapped is None:
                        budget = 2
                    else:
                        nxt = trapped
                elif self.budget is not None:
                    done = st.counters.callouts + eng.native_io.answered + eng.view.mmio_accesses
                    idle = done == entries
                    nxt = self.budget.stopped(nxt, idle=idle)
                    if st.deferred:
                        # Stopped inside one instruction's translation with an interrupt
                        # due: stop again at the next block start, which may be a boundary.
                        budget = 2
            if isinstance(nxt, RunResult):
                return nxt
            code_addr = nxt

    def _stopped(self, stop: VcpuExit | RunResult) -> CodeAddr | RunResult:
        """A hook stopped the CPU for `stop`."""
        if isinstance(stop, RunResult):
            return stop
        if isinstance(stop, Halt):
            woke = self.halt.wait(stop.eip)
            if isinstance(woke, RunResult):
                return woke
            self.state.eip = stop.eip
            return self.dispatch.enter(self.events.deliver(woke))
        if isinstance(stop, Shutdown):
            return RunResult("exit-port", stop.status, stop.reason, self.state.eip)
        if isinstance(stop, Unsupported):
            return RunResult("crash", EXIT_CRASH, stop.what, stop.eip)
        raise InternalError(f"unhandled exit {stop}")

    def _guest_eip(self, code_addr: CodeAddr) -> int:
        tb = self.cache.block_at(code_addr)
        return tb.guest_eip_at(code_addr) if tb is not None else self.state.eip

    def _cpu_exception(self, vector: int, code_addr: CodeAddr) -> CodeAddr | RunResult:
        eip = self._guest_eip(code_addr)
        if vector < 0:
            return RunResult("crash", EXIT_CRASH, "the CPU stopped on an unexpected error", eip)
        code = 0 if vector in ERROR_CODE_VECTORS else None
        fault = self.engine.view.page_fault
        if vector == 14 and fault is not None:
            # The guest's page tables refused a data access of copied code (bt/guestview.py):
            # an unmapped access, which Unicorn does not remember as an exception.
            self.engine.view.page_fault = None
            self.events.vcpu.cr2 = fault.linear
            code = fault.error_code
        else:
            self.engine.forget_exception()
        return self.dispatch.enter(self.events.deliver(Fault(vector, code, eip)))

    def _page_fault_in_hook(self, code_addr: CodeAddr, fault: PageFault) -> None:
        """The guest's #PF, found by the shadow tables inside Unicorn's exception hook:
        delivered there, as a callout's own fault is, and translated code goes on at the
        handler without leaving the CPU (a demand-paging kernel takes one per page)."""
        unbias(self.cache, self.engine, code_addr)
        eip = self._guest_eip(code_addr)
        vcpu = self.events.vcpu
        self.dispatch.pull_if()
        vcpu.cr2 = fault.linear
        nxt = self.dispatch.enter(self.events.deliver(Fault(14, fault.error_code, eip)))
        self.dispatch.push_if()
        self.engine.sync_control(vcpu.cr2, vcpu.cr3)
        if isinstance(nxt, RunResult):
            self.state.request_stop(nxt)
            self.engine.stop()
        else:
            self.engine.set_eip(nxt)

    def stats(self) -> RunStats:
        """A snapshot of the counters."""
        n = self.state.counters
        fills = self.engine.view.tlb_fills
        shadow = self.engine.native_faults
        return RunStats(
            guest_insns=self.counter.count if self.counter is not None else None,
            python_entries=n.callouts + n.emu_starts + fills + shadow,
            callouts=n.callouts - n.slot_exits,
            slot_exits=n.slot_exits,
            emu_starts=n.emu_starts,
            backstops=n.backstops,
            backstop_budget=BACKSTOP_BLOCKS,
            backstop_mode=self.engine.backstop.mode,
            tlb_fills=fills,
            shadow_faults=shadow,
            smc_faults=n.smc,
            interrupts=dict(n.vectors),
            wall_seconds=self._wall,
        )
