"""ExitDispatch: acts on callouts and unchained exits inside Unicorn's interrupt hook.

Most exits never leave `emu_start`: the hook finds (or translates) the next block, chains the
exit slot that led to it, and points the real EIP there. Only what needs the run loop (HLT with
no timer due, a stop, a crash, a limit) stops the CPU.
"""

from __future__ import annotations

from unicorn import x86_const as R

from bt.blockmaker import BlockMaker
from bt.cache.block import TranslationBlock
from bt.cache.cache import TranslationCache
from bt.callouts.context import CalloutContext
from bt.callouts.table import HANDLERS
from bt.debugregs import DebugRegisters
from bt.engine import Engine
from bt.errors import InternalError, TranslationError
from bt.events import EventDelivery
from bt.exits import ExtInt, Fault, Goto, Halt, SoftInt, Unsupported, VcpuExit
from bt.halt import HaltWait
from bt.interrupts import InterruptPolicy
from bt.irq import IrqSource
from bt.keypolicy import KeyPolicy
from bt.limits import Limits
from bt.paging import PageFault
from bt.runresult import EXIT_CRASH, RunResult
from bt.runstate import RunState
from bt.shadow import InterruptShadow
from bt.timebase import VirtualClock
from bt.translator.bake import NO_VARIANT
from bt.translator.rewriter import EXIT_VECTOR
from bt.translator.sensitive import CALLOUT_THEN_COPY
from bt.types import CodeAddr
from bt.vcpu import IF, RF, TF, Vcpu

# Virtual time each monitor entry adds (see Machine._add_pc_devices).
MONITOR_ENTRY_NS = 1000
_IO_KINDS = frozenset({"in", "out", "ins", "outs"})
_EFLAGS = R.UC_X86_REG_EFLAGS

_SS_LOADS = frozenset(("mov_to_seg", "pop_seg"))  # a shadow they leave holds the #DB trap too


class ExitDispatch:
    """The callout hook: semantics of the sensitive instruction, then where execution goes."""

    def __init__(
        self,
        engine: Engine,
        vcpu: Vcpu,
        ctx: CalloutContext,
        cache: TranslationCache,
        maker: BlockMaker,
        keys: KeyPolicy,
        events: EventDelivery,
        shadow: InterruptShadow,
        halt: HaltWait,
        limits: Limits,
        state: RunState,
        irq: IrqSource | None = None,
        interrupts: InterruptPolicy | None = None,
        clock: VirtualClock | None = None,
    ) -> None:
        self.engine = engine
        self.vcpu = vcpu
        self.ctx = ctx
        self.cache = cache
        self.maker = maker
        self.keys = keys
        self.events = events
        # A delivery through a task gate changes CR0.TS and LDTR as a callout may.
        events.system_watch = (keys.system_state, self.system_changed)
        self.shadow = shadow
        self.halt = halt
        self.limits = limits
        self.state = state
        self.irq = irq
        self.interrupts = interrupts
        self.clock = clock
        self.debug = DebugRegisters(engine, vcpu, ctx, cache, keys, state)
        self.watch = self.debug.watch
        engine.on_callout = self.on_callout

    # -- the real IF ---
    def push_if(self) -> None:
        """Give the real CPU the guest's IF (the monitor changed it)."""
        real = self.engine.read_reg(_EFLAGS)
        if (real ^ self.vcpu.eflags_sys) & IF:
            self.engine.write_reg(_EFLAGS, real ^ IF)

    def pull_if(self) -> None:
        """Take the guest's IF from the real CPU (translated code may have changed it)."""
        v = self.vcpu
        v.eflags_sys = (v.eflags_sys & ~IF) | (self.engine.read_reg(_EFLAGS) & IF)

    # -- the hook ---
    def on_callout(self, vector: int, resume: CodeAddr) -> None:
        """Unicorn's interrupt hook for `int 0x80` (exit slot) and `int 0x81` (callout)."""
        # The real IF is the guest's while translated code runs (CLI/STI run unchanged).
        real_if = self.engine.snapshot[9] & IF
        vcpu = self.vcpu
        vcpu.eflags_sys = (vcpu.eflags_sys & ~IF) | real_if
        try:
            self._callout(vector, resume)
        finally:
            if (vcpu.eflags_sys & IF) != real_if:
                self.push_if()
            self.engine.sync_control(vcpu.cr2, vcpu.cr3)

    def _callout(self, vector: int, resume: CodeAddr) -> None:
        n = self.state.counters
        n.callouts += 1
        if self.clock is not None:
            self.clock.advance(MONITOR_ENTRY_NS)
        if self.state.rf_at is not None:
            self._rf_done(vector, resume)
        if vector == EXIT_VECTOR:
            hit = self.cache.exit_at(resume)
            if hit is None:
                raise InternalError(f"exit from unknown code address 0x{resume:08x}")
            tb, no = hit
            slot = tb.exits[no]
            slot.taken += 1
            n.slot_exits += 1
            if slot.target is None:
                raise InternalError(f"reached a dead exit slot at 0x{slot.address:08x}")
            hits = self.watch.take()  # the block's one instruction hit a data breakpoint
            if tb.key.single_step or hits:
                self._step_trap(slot.target, hits, tb.key.single_step)
                return
            self.go(Goto(slot.target), tb, no)
            return
        found = self.cache.callout_at(resume)
        if found is None:
            raise InternalError(f"callout from unknown code address 0x{resume:08x}")
        tb, site = found
        self.state.eip = site.insn.eip  # a stop the callout asks for (the exit port) names it
        why = self.limits.reached()
        if why is not None:
            # Before the instruction's semantics: the report names it, nothing half done.
            self._end(RunResult(self.limits.kind(), self.limits.status(), why, site.insn.eip))
            return
        self.cache.callout_counts[site.kind] += 1
        tb.callout_counts[site.kind] = tb.callout_counts.get(site.kind, 0) + 1
        ctx = self.ctx
        ctx.begin(self.engine.snapshot)
        st = self.state
        st.current, st.current_hit = tb, False
        # A callout made before a copied instruction resumes at that instruction (fpu_env):
        # that instruction has not run yet, so a shadow over it lasts.
        pre = site.kind in CALLOUT_THEN_COPY
        if not pre or not self.shadow.covers(site.insn.eip):
            self.shadow.instruction_ran()
        system = self.keys.system_state()
        watch = self.watch
        paging = self.debug.paging() if watch.data else None
        carried = watch.take()  # copied code of this same instruction hit before the callout
        watch.in_callout = True
        try:
            result = HANDLERS[site.kind](ctx, site.insn)
        except PageFault as fault:
            # One of its memory accesses: the instruction did nothing (REP INS/OUTS keep their
            # progress) and #PF is raised at it.
            ctx.discard()
            self.vcpu.cr2 = fault.linear
            result = Fault(14, fault.error_code, site.insn.eip)
        finally:
            watch.in_callout = False
            ctx.commit()
            st.current = None
        # Breakpoint hits count once the instruction completed (not after a fault, nor for a
        # callout made before the copied instruction it belongs to, which has not run yet).
        hits = carried | watch.take()
        if pre or not (result is None or isinstance(result, Goto)):
            hits = 0
        mmu = ctx.mem.mmu
        if mmu is not None:
            mmu.sync_privilege()  # a far transfer, IRET or SYSEXIT may have changed the CPL
        if site.kind == "mov_dr" and result is None:
            result = self.debug.written(site.insn.eip)
        elif paging is not None:
            self.debug.after_callout(site.kind, paging)
        if self.keys.system_state() != system:
            self.system_changed()
        if not tb.valid:
            # Retired meanwhile (it built in an old value, or the cache was flushed): the
            # rest of it must not run.
            st.current_hit = True
        self.shadow.note_begun()
        if tb.key.single_step and (isinstance(result, Goto) or result is None and not pre):
            # The instruction completed with TF set at its start: the #DB trap comes now,
            # except after a MOV SS/POP SS, which holds it until after the next instruction
            # (Intel SDM 6.8.3; QEMU 7.2 does the same).
            nxt = result.eip if isinstance(result, Goto) else site.insn.next_eip
            if site.kind in _SS_LOADS and self.vcpu.shadow_eip == nxt:
                self.go(Goto(nxt), None, -1)
            else:
                self._step_trap(nxt, hits, True)
            return
        if site.ic_fields and isinstance(result, Goto) and tb.valid:
            try:
                dst = self.maker.block_for(result.eip)
            except TranslationError:
                pass  # reported when execution gets there
            else:
                if dst.key.eip == result.eip:  # not a fetch fault's handler
                    self.cache.retarget_return_cache(tb, site, result.eip, dst)
        if site.kind in _IO_KINDS and self.irq is not None:
            self.irq.devices_changed()
        elif site.kind == "iret" and self.irq is not None and not isinstance(result, Fault):
            self.irq.nmi.iret()  # NMIs are delivered again (bt/nmi.py)
        if hits:
            # A data or I/O breakpoint matched: the #DB trap, returning to the next instruction
            # (or to a REP INS/OUTS that stopped after the iteration that hit).
            nxt = result.eip if isinstance(result, Goto) else site.insn.next_eip
            self._step_trap(nxt, hits, step=False)
            return
        if result is None:
            if pre:
                self._after(tb, site.insn.eip, self.shadow.over_callout(tb, site))
            else:
                self._after(tb, site.insn.next_eip)
            return
        self.go(result, None, -1)

    def _after(self, tb: TranslationBlock, nxt: int, shadowed: bool = False) -> None:
        """A callout that did not leave the block: go on after it (at `nxt`), unless something
        changed. `shadowed`: `nxt` is under an STI/MOV SS shadow, no interrupt before it."""
        if self.state.current_hit:
            # The callout wrote over its own block: go on in a fresh translation.
            self.go(Goto(nxt), None, -1)
            return
        if self.interrupts is not None and not shadowed:
            ext = self.interrupts.at(nxt)
            if ext is not None:
                self.go(ext, None, -1)
                return
            if self.interrupts.waits_for_shadow(nxt):
                self.step_one(nxt)
                return
        if bool(self.vcpu.eflags_sys & TF) != tb.key.single_step or (
            tb.key.variant != NO_VARIANT and tb.key.variant != self.keys.variant()
        ):
            # The rest of the block was built for other virtual state (a selector, IOPL,
            # or an interrupt now waiting for IF): go on in a translation for this one.
            self.go(Goto(nxt), None, -1)

    def _rf_done(self, vector: int, resume: CodeAddr) -> None:
        """EFLAGS.RF clears once the breakpoint instruction it let run has completed: at its
        block's exit, or at a callout of another instruction."""
        if vector != EXIT_VECTOR:
            found = self.cache.callout_at(resume)
            if found is not None and found[1].insn.eip == self.state.rf_at:
                return
        self.vcpu.eflags_sys &= ~RF
        self.state.rf_at = None

    def _step_trap(self, eip: int, hits: int = 0, step: bool = True) -> None:
        """The #DB trap after an instruction that began with TF set (`step`: DR6.BS) or that
        matched data or I/O breakpoints (`hits`: DR6 B0-B3), returning to `eip`, the next
        instruction."""
        self.debug.trap(hits, step)
        self.state.eip = eip
        self.go(ExtInt(1, eip), None, -1)

    def watch_stop(self, code_addr: CodeAddr) -> CodeAddr | RunResult | None:
        """The backstop stopped the CPU at `code_addr` after copied code hit a data
        breakpoint: at an instruction boundary the #DB trap is raised there (where to go on);
        None inside one instruction's translation, where the next block start will do."""
        tb = self.cache.block_at(code_addr)
        eip = tb.guest_eip_starting_at(code_addr - tb.code_addr) if tb is not None else None
        if eip is None:
            return None
        self.debug.trap(self.watch.take(), step=False)
        self.state.eip = eip
        return self.enter(self.events.deliver(ExtInt(1, eip)))

    def step_one(self, eip: int) -> None:
        """Run the one instruction at `eip` alone, so that the monitor sees the boundary after
        it and delivers the interrupt the shadow held back exactly there, as a CPU does."""
        try:
            self.state.eip = eip
            one = self.maker.one_shot(eip)
            self.state.eip = one.key.eip  # the #PF handler's when the fetch faulted
            self.engine.set_eip(one.code_addr)
        except TranslationError as exc:
            self._end(RunResult("crash", EXIT_CRASH, str(exc), eip))

    def go(self, result: VcpuExit, src: TranslationBlock | None, slot_no: int) -> None:
        """Act on an exit from inside the hook: redirect to the next block or stop the CPU."""
        if isinstance(result, Goto) and self.interrupts is not None:
            ext = self.interrupts.at(result.eip)
            if ext is not None:
                result, src = ext, None  # the slot leads to the handler now: do not chain
            elif self.interrupts.waits_for_shadow(result.eip):
                self.step_one(result.eip)
                return
        elif isinstance(result, Halt):
            # In virtual time a halt lasts until the next timer event: skip to it here, without
            # leaving emu_start (the run loop's HaltWait handles input waits and the host).
            woken = self.halt.skip(result.eip)
            if woken is not None:
                result = woken
        if isinstance(result, (Fault, SoftInt, ExtInt)):
            result = self.events.deliver(result)
        if isinstance(result, Goto):
            try:
                tb = self.maker.block_for(result.eip)
            except TranslationError as exc:
                self._end(RunResult("crash", EXIT_CRASH, str(exc), result.eip))
                return
            if src is not None and tb.key.eip == result.eip:
                self.cache.chain(src, slot_no, tb)  # where cache/chain.py's may_chain allows
            tb.entries += 1
            self.state.eip = tb.key.eip
            self.engine.set_eip(tb.code_addr)
            return
        self._end(result)

    def system_changed(self) -> None:
        """CR0, GDTR, IDTR or LDTR changed: retire the translations that built in old values."""
        for name, value in self.keys.assumed().items():
            self.cache.invalidate_assumption(name, value)

    def _end(self, why: VcpuExit | RunResult) -> None:
        self.state.request_stop(why)
        self.engine.stop()

    def enter(self, got: VcpuExit) -> CodeAddr | RunResult:
        """The code address to go on at after a delivery made outside the hook."""
        self.watch.take()  # after a fault: the faulting instruction's hits do not count
        if isinstance(got, Goto):
            self.state.eip = got.eip
            try:
                tb = self.maker.block_for(got.eip)
            except TranslationError as exc:
                return RunResult("crash", EXIT_CRASH, str(exc), got.eip)
            self.state.eip = tb.key.eip
            tb.entries += 1
            return tb.code_addr
        if isinstance(got, Unsupported):
            return RunResult("crash", EXIT_CRASH, got.what, got.eip)
        raise InternalError(f"delivery gave {got}")
