"""RunLoop: lookup -> translate on miss -> chain -> execute -> dispatch exits, with stats().

Most exits are handled inside Unicorn's interrupt hook without leaving `emu_start`: the hook
finds (or translates) the next block, chains the exit slot that led to it, and points the real
EIP there. `emu_start` returns only for what needs the loop itself: HLT, a guest request to stop,
a crash, a write into a page holding translated code, or a limit.
"""

from __future__ import annotations

import bisect
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from unicorn import UC_HOOK_BLOCK
from unicorn import x86_const as R

from bt.callouts.context import CalloutContext
from bt.callouts.table import HANDLERS
from bt.delivery import deliver, merge
from bt.descriptors import fetch_descriptor, is_null
from bt.engine import TC_LINEAR, TC_SIZE, Engine
from bt.errors import InternalError, TranslationError
from bt.exits import (
    ERROR_CODE_VECTORS,
    ExtInt,
    Fault,
    Goto,
    Halt,
    Shutdown,
    SoftInt,
    Unsupported,
    VcpuExit,
)
from bt.irq import BACKSTOP_BLOCKS, IrqSource
from bt.memory import GuestMemory
from bt.timebase import VirtualClock
from bt.vcpu import AC, ID, IF, NT, TF, VIF, VIP, VM, Vcpu
from cache.block import TBKey, TranslationBlock
from cache.cache import TranslationCache
from cache.persist import PersistentStore, decode, guest_hash
from translator.bake import NO_VARIANT, Bake, pack_variant, table_value, trap_if_of
from translator.rewriter import EXIT_VECTOR, CalloutSite, Rewriter, TranslatedCode
from translator.scanner import Scanner
from translator.sensitive import CALLOUT_THEN_COPY, Rule

# Virtual time each monitor entry adds (see Machine._add_pc_devices).
MONITOR_ENTRY_NS = 1000
_IO_KINDS = frozenset({"in", "out", "ins", "outs"})
# Virtual EFLAGS bits the real CPU does not hold: while one is set, CLI/STI/PUSHF/POPF call
# the monitor.
_UNBAKED_FLAGS = TF | NT | AC | ID | VM | VIF | VIP
_EFLAGS = R.UC_X86_REG_EFLAGS
_ACCESSED = 0x100  # the type field's A bit, in a segment cache's flags

EXIT_HALT = 0
EXIT_BAD_INPUT = 2
EXIT_CRASH = 4
EXIT_LIMIT = 6

EXCEPTION_NAMES = {
    0: "#DE divide error", 1: "#DB debug", 3: "#BP breakpoint", 4: "#OF overflow",
    5: "#BR bound range", 6: "#UD invalid opcode", 7: "#NM device not available",
    8: "#DF double fault", 10: "#TS invalid TSS", 11: "#NP segment not present",
    12: "#SS stack fault", 13: "#GP general protection", 14: "#PF page fault",
    16: "#MF x87 error", 17: "#AC alignment check", 18: "#MC machine check",
    19: "#XM SIMD error",
}


@dataclass(frozen=True, slots=True)
class RunResult:
    """How a run ended: `kind` is halt, exit-port, crash or limit."""

    kind: str
    status: int
    message: str
    eip: int


@dataclass(frozen=True, slots=True)
class RunStats:
    """The run loop's counters (a snapshot)."""

    guest_insns: int | None  # counted only when instruction counting is on
    python_entries: int  # every time Python ran while the guest was running
    callouts: int
    slot_exits: int  # exits through an unchained slot
    emu_starts: int
    backstops: int  # emu_starts that ended because the backstop's budget ran out
    backstop_budget: int
    backstop_mode: str
    tlb_fills: int
    smc_faults: int
    interrupts: dict[int, int]  # deliveries by vector
    wall_seconds: float


@dataclass(slots=True)
class _Limits:
    max_insns: int | None = None
    timeout: float | None = None


@dataclass(slots=True)
class _Counters:
    callouts: int = 0
    slot_exits: int = 0
    emu_starts: int = 0
    backstops: int = 0
    smc: int = 0
    vectors: Counter[int] = field(default_factory=Counter)


class RunLoop:
    """Runs the guest from its current state until it halts, stops, crashes or hits a limit."""

    def __init__(
        self,
        engine: Engine,
        mem: GuestMemory,
        vcpu: Vcpu,
        ctx: CalloutContext,
        cache: TranslationCache,
        scanner: Scanner,
        rewriter: Rewriter,
        eip: int,
    ) -> None:
        self.engine = engine
        self.mem = mem
        self.vcpu = vcpu
        self.ctx = ctx
        self.cache = cache
        self.scanner = scanner
        self.rewriter = rewriter
        self.eip = eip
        self.limits = _Limits()
        self._n = _Counters()
        self._stop: VcpuExit | RunResult | None = None
        self._guest_insns: int | None = None
        self.executions: Counter[int] = Counter()  # block code address -> runs (when counted)
        self._wall = 0.0
        self._deadline: float | None = None
        engine.on_callout = self._on_callout
        mem.on_code_write = self._on_code_write
        self._current: TranslationBlock | None = None
        self._current_hit = False
        self.on_deliver: Callable[[int, int | None, int], None] | None = None
        self._deferred = False  # the backstop found an interrupt due inside an instruction
        self.bake = True  # build virtual state into translations (off: every one calls out)
        self._shadow_slice = -1  # the slice in which the current STI/MOV SS shadow began
        self.store: PersistentStore | None = None
        self.clock: VirtualClock | None = None
        self.irq: IrqSource | None = None
        self.realtime = False  # HLT waits in host time (--realtime)
        # Called while the guest halts with nothing scheduled: True if it produced input
        # (keys typed on the host terminal) that may wake the guest.
        self.wait_for_input: Callable[[float], bool] | None = None

    # -- configuration ---
    def count_instructions(self) -> None:
        """Count guest instructions exactly (a block hook: slow, for limits and measurement)."""
        self._guest_insns = 0
        self.engine.uc.hook_add(UC_HOOK_BLOCK, self._on_block, None, TC_LINEAR,
                                TC_LINEAR + TC_SIZE - 1)

    def _on_block(self, uc: object, address: int, size: int, _ud: object) -> None:
        tb = self.cache.block_at(address)
        if tb is None or self._guest_insns is None:
            return
        offs = [r.offset for r in tb.insns]
        lo = bisect.bisect_left(offs, address - tb.code_addr)
        hi = bisect.bisect_left(offs, address - tb.code_addr + size)
        self._guest_insns += hi - lo
        if address == tb.code_addr:
            self.executions[address] += 1
        if self.limits.max_insns is not None and self._guest_insns >= self.limits.max_insns:
            self._stop = RunResult("limit", EXIT_LIMIT,
                                   f"instruction limit reached ({self.limits.max_insns})",
                                   tb.guest_eip_at(address))
            self.engine.stop()

    # -- translation ---
    def _key(self, eip: int, max_insns: int = 64) -> TBKey:
        cs = self.vcpu.segs["cs"]
        if not cs.big:
            raise TranslationError(f"16-bit protected-mode code at 0x{eip:08x} is not supported")
        return TBKey(eip, cs.base, "pm32", max_insns, self._variant() if self.bake else NO_VARIANT)

    def _variant(self) -> int:
        """The virtual state translations for the current vCPU may build in (bake.py).

        IF 0 -> 1 changes must reach the monitor (`trap_if`) while an interrupt waits for IF.
        With nothing pending, STI and POPF run inline: nothing can become pending before the
        monitor runs again (a callout, the backstop), and then it looks again
        (`_on_callout`, `_backstop`)."""
        v = self.vcpu
        sysf = v.eflags_sys
        cs = v.segs["cs"]
        cpl = v.cpl
        iopl = (sysf >> 12) & 3
        irq = self.irq
        trap = irq is not None and not sysf & IF and irq.pending()
        return pack_variant(cpl <= iopl and not sysf & _UNBAKED_FLAGS, iopl, cpl == 0, trap,
                            cs.selector, cs.limit == 0xFFFFFFFF, v.segs["ss"].selector)

    def _assumed(self) -> dict[str, int]:
        """The current values of the state translations record as assumptions."""
        v = self.vcpu
        return {"cr0": v.cr0, "gdtr": table_value(v.gdtr), "idtr": table_value(v.idtr),
                "csdesc": self._cs_reload()}

    def _cs_reload(self) -> int:
        """The descriptor (its 8 bytes as one int) that a far transfer to the current CS
        selector would load, if loading it gives the current CS again: same base, limit and
        attributes but for the accessed bit, which no guest instruction reads from a segment
        register (and which QEMU does not write on far transfers). -1 if not."""
        cs = self.vcpu.segs["cs"]
        if is_null(cs.selector):
            return -1
        desc = fetch_descriptor(self.ctx, cs.selector)
        if desc is None or not desc.is_code or not desc.present:
            return -1
        if (desc.base, desc.limit, desc.attr | _ACCESSED) != (cs.base, cs.limit,
                                                              cs.flags | _ACCESSED):
            return -1
        return desc.raw

    def block_for(self, eip: int) -> TranslationBlock:
        """The block for guest `eip` in the current code segment, translated on a miss."""
        key = self._key(eip)
        tb = self.cache.lookup(key)
        if tb is None:
            tb = self._translate(key, watch=True)
        return tb

    def _translate(self, key: TBKey, watch: bool) -> TranslationBlock:
        code = self._from_store(key) if self.store is not None else None
        if code is None:
            scanned = self.scanner.scan(self.mem, key.cs_base, key.eip, key.max_insns)
            v = self.vcpu
            bake = None if key.variant < 0 else Bake.unpack(key.variant, v.cr0, v.gdtr, v.idtr,
                                                            self._cs_reload())
            code = self.rewriter.rewrite(scanned, key.cs_base, bake)
            if self.store is not None:
                self.store.put(key, code, self._guest_bytes(code.guest_ranges))
        pages = self.mem.phys_pages(code.guest_ranges) if watch else ()
        raw = b"".join(r.insn.raw for r in code.insns)
        return self.cache.insert(key, code, pages, raw)

    def _guest_bytes(self, ranges: tuple[tuple[int, int], ...] | list[list[int]]) -> bytes:
        return b"".join(self.mem.read(a, b - a) for a, b in ranges)

    def _from_store(self, key: TBKey) -> TranslatedCode | None:
        """A stored translation whose guest bytes are still the ones it was made from."""
        assert self.store is not None
        now = self._assumed()
        for digest, ranges, payload in self.store.candidates(key):
            if guest_hash(self._guest_bytes(ranges)) == digest:
                code = decode(payload)
                if any(now.get(name) != value for name, value in code.assumes):
                    continue  # built for another CR0/GDTR/IDTR
                self.store.hits += 1
                self.cache.reused += 1
                return code
        return None

    # -- hooks ---
    def _on_code_write(self, page: int) -> None:
        victims = self.cache.invalidate_page(page, "guest write (monitor)")
        if self._current is not None and self._current in victims:
            self._current_hit = True

    def _on_callout(self, vector: int, resume: int) -> None:
        # The real IF is the guest's while translated code runs (CLI/STI run unchanged).
        real_if = self.engine.snapshot[9] & IF
        vcpu = self.vcpu
        vcpu.eflags_sys = (vcpu.eflags_sys & ~IF) | real_if
        try:
            self._callout(vector, resume)
        finally:
            if (vcpu.eflags_sys & IF) != real_if:
                self._push_if()

    def _push_if(self) -> None:
        """Give the real CPU the guest's IF (the monitor changed it)."""
        real = self.engine.read_reg(_EFLAGS)
        if (real ^ self.vcpu.eflags_sys) & IF:
            self.engine.write_reg(_EFLAGS, real ^ IF)

    def _pull_if(self) -> None:
        """Take the guest's IF from the real CPU (translated code may have changed it)."""
        v = self.vcpu
        v.eflags_sys = (v.eflags_sys & ~IF) | (self.engine.read_reg(_EFLAGS) & IF)

    def _callout(self, vector: int, resume: int) -> None:
        self._n.callouts += 1
        if self.clock is not None:
            self.clock.advance(MONITOR_ENTRY_NS)
        if vector == EXIT_VECTOR:
            hit = self.cache.exit_at(resume)
            if hit is None:
                raise InternalError(f"exit from unknown code address 0x{resume:08x}")
            tb, no = hit
            slot = tb.exits[no]
            slot.taken += 1
            self._n.slot_exits += 1
            if slot.target is None:
                raise InternalError(f"reached a dead exit slot at 0x{slot.address:08x}")
            self._continue(Goto(slot.target), tb, no)
            return
        found = self.cache.callout_at(resume)
        if found is None:
            raise InternalError(f"callout from unknown code address 0x{resume:08x}")
        tb, site = found
        self.cache.callout_counts[site.kind] += 1
        tb.callout_counts[site.kind] = tb.callout_counts.get(site.kind, 0) + 1
        ctx = self.ctx
        ctx.begin(self.engine.snapshot)
        self._current, self._current_hit = tb, False
        vcpu = self.vcpu
        # A callout made before a copied instruction resumes at that instruction (fpu_env).
        pre = site.kind in CALLOUT_THEN_COPY
        if not pre or vcpu.shadow_eip != site.insn.eip:
            vcpu.shadow_eip = None  # an instruction ran since any earlier STI/MOV SS: it is over
        system = (vcpu.cr0, vcpu.gdtr, vcpu.idtr, vcpu.ldtr)
        try:
            result = HANDLERS[site.kind](ctx, site.insn)
        finally:
            ctx.commit()
            self._current = None
        if (vcpu.cr0, vcpu.gdtr, vcpu.idtr, vcpu.ldtr) != system:
            for name, value in self._assumed().items():
                self.cache.invalidate_assumption(name, value)
            if not tb.valid:
                self._current_hit = True  # the rest of the block built in the old value
        if vcpu.shadow_eip is not None:
            self._shadow_slice = self._n.emu_starts
        if site.ic_fields and isinstance(result, Goto) and tb.valid:
            try:
                dst = self.block_for(result.eip)
            except TranslationError:
                pass  # reported when execution gets there
            else:
                if dst.key.variant == tb.key.variant and dst.key.cs_base == tb.key.cs_base:
                    self.cache.retarget_return_cache(tb, site, result.eip, dst)
        if site.kind in _IO_KINDS and self.irq is not None:
            self.irq.devices_changed()
        if result is None:
            nxt = site.insn.eip if pre else site.insn.next_eip
            if self._current_hit:
                # The callout wrote over its own block: go on in a fresh translation.
                self._continue(Goto(nxt), None, -1)
                return
            # Before an instruction under an STI/MOV SS shadow no interrupt may be taken.
            if self.irq is not None and not (pre and self._shadowed(tb, site)):
                ext = self._interrupt_at(nxt)
                if ext is not None:
                    self._continue(ext, None, -1)
                    return
                if self._shadow_pending(nxt):
                    self._step_one(nxt)
                    return
            if tb.key.variant != NO_VARIANT and tb.key.variant != self._variant():
                # The rest of the block was built for other virtual state (a selector, IOPL,
                # or an interrupt now waiting for IF): go on in a translation for this one.
                self._continue(Goto(nxt), None, -1)
            return
        self._continue(result, None, -1)

    def _interrupt_at(self, eip: int) -> ExtInt | None:
        """The external interrupt the guest takes before the instruction at `eip`, if any
        (devices brought up to date first; IF and the STI/MOV SS shadow respected)."""
        irq = self.irq
        if irq is None:
            return None
        irq.poll()
        vcpu = self.vcpu
        if not vcpu.interrupts_enabled:
            return None
        if vcpu.shadow_eip is not None:
            if vcpu.shadow_eip == eip:
                return None
            vcpu.shadow_eip = None
        if not irq.pending():
            return None
        return ExtInt(irq.acknowledge(), eip)

    def _shadow_pending(self, eip: int) -> bool:
        """Whether an interrupt waits only for the STI/MOV SS shadow at `eip` to end."""
        assert self.irq is not None
        return self.vcpu.interrupts_enabled and self.vcpu.shadow_eip == eip \
            and self.irq.pending()

    def _step_one(self, eip: int) -> None:
        """Run the one instruction at `eip` alone, so that the monitor sees the boundary after
        it and delivers the interrupt the shadow held back exactly there, as a CPU does."""
        try:
            self.engine.set_eip(self._one_shot(eip))
        except TranslationError as exc:
            self._stop = RunResult("crash", EXIT_CRASH, str(exc), eip)
            self.engine.stop()

    def _continue(self, result: VcpuExit, src: TranslationBlock | None, slot_no: int) -> None:
        """Act on an exit from inside the hook: redirect to the next block or stop the CPU."""
        if isinstance(result, Goto) and self.irq is not None:
            ext = self._interrupt_at(result.eip)
            if ext is not None:
                result, src = ext, None  # the slot leads to the handler now: do not chain
            elif self._shadow_pending(result.eip):
                self._step_one(result.eip)
                return
        elif isinstance(result, Halt) and self.clock is not None and self.irq is not None \
                and self.vcpu.interrupts_enabled:
            # In virtual time a halt lasts until the next timer event: skip to it here, without
            # leaving emu_start (the run loop's _halt handles waits for input and the host).
            woken = self._skip_to_interrupt(result.eip)
            if woken is not None:
                result = woken
        if isinstance(result, (Fault, SoftInt, ExtInt)):
            result = self._deliver(result)
        if isinstance(result, Goto):
            try:
                tb = self.block_for(result.eip)
            except TranslationError as exc:
                self._stop = RunResult("crash", EXIT_CRASH, str(exc), result.eip)
                self.engine.stop()
                return
            if src is not None and src.valid and src.key.variant == tb.key.variant \
                    and src.key.cs_base == tb.key.cs_base:
                self.cache.chain(src, slot_no, tb)
            tb.entries += 1
            self.eip = result.eip
            self.engine.set_eip(tb.code_addr)
            return
        self._stop = result
        self.engine.stop()

    def _deliver(self, event: Fault | SoftInt | ExtInt) -> VcpuExit:
        ctx = self.ctx
        ctx.begin()
        try:
            if isinstance(event, ExtInt):
                self._n.vectors[event.vector] += 1
                self.vcpu.halted = False
                if self.on_deliver is not None:
                    self.on_deliver(event.vector, None, event.eip)
                got = deliver(ctx, event.vector, None, event.eip, False, False)
                if not isinstance(got, Fault):
                    return got
                # A fault while taking an external interrupt is delivered as a first fault.
                current, fault = -1, got
            elif isinstance(event, SoftInt):
                self._n.vectors[event.vector] += 1
                if self.on_deliver is not None:
                    self.on_deliver(event.vector, None, event.eip)
                got = deliver(ctx, event.vector, None, event.next_eip, True, event.check_dpl,
                              event.eip)
                if not isinstance(got, Fault):
                    return got
                current, fault = event.vector, got
            else:
                current, fault = -1, event
            while True:
                self._n.vectors[fault.vector] += 1
                if current >= 0:
                    nxt = merge(current, fault.vector)
                    if nxt is None:
                        return Unsupported(
                            f"triple fault ({_name(fault.vector)} while delivering #DF)",
                            fault.eip,
                        )
                    if nxt == 8:
                        fault = Fault(8, 0, fault.eip)
                code = fault.error_code
                if fault.vector in ERROR_CODE_VECTORS and code is None:
                    code = 0
                if self.on_deliver is not None:
                    self.on_deliver(fault.vector, code, fault.eip)
                got = deliver(ctx, fault.vector, code, fault.eip, False, False)
                if not isinstance(got, Fault):
                    return got
                current, fault = fault.vector, got
        finally:
            ctx.commit()

    # -- the loop ---
    def run(self, max_insns: int | None = None, timeout: float | None = None) -> RunResult:
        """Run until the guest halts, asks to stop, crashes, or a limit is reached."""
        self.limits = _Limits(max_insns, timeout)
        if max_insns is not None and self._guest_insns is None:
            self.count_instructions()
        start = time.monotonic()
        self._deadline = start + timeout if timeout is not None else None
        try:
            return self._loop()
        finally:
            self._wall += time.monotonic() - start

    def _loop(self) -> RunResult:
        eng = self.engine
        try:
            tb = self.block_for(self.eip)
        except TranslationError as exc:
            return RunResult("crash", EXIT_CRASH, str(exc), self.eip)
        code_addr = tb.code_addr
        budget = BACKSTOP_BLOCKS
        while True:
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return self._limit_result(code_addr)
            self._stop = None
            self._n.emu_starts += 1
            entries = self._n.callouts
            self._push_if()
            try:
                eng.run(code_addr, budget)
            finally:
                self._pull_if()
            budget = BACKSTOP_BLOCKS
            stop = self._stop
            if stop is not None:
                if isinstance(stop, RunResult):
                    return stop
                if isinstance(stop, Halt):
                    nxt = self._halt(stop.eip)
                    if isinstance(nxt, RunResult):
                        return nxt
                    code_addr = nxt
                    continue
                result = self._finish(stop)
                if result is not None:
                    return result
                raise InternalError(f"unhandled exit {stop}")
            if eng.denied is not None:
                nxt = self._smc(eng.denied.page, eng.denied.code_addr)
                if isinstance(nxt, RunResult):
                    return nxt
                code_addr = nxt
                continue
            if eng.exception is not None:
                nxt = self._cpu_exception(eng.exception.vector, eng.exception.code_addr)
                if isinstance(nxt, RunResult):
                    return nxt
                code_addr = nxt
                continue
            # emu_start returned by itself: the backstop's budget ran out, at the start of a
            # Unicorn block (or, with the fallback instruction count, at any instruction).
            self._n.backstops += 1
            code_addr = eng.read_reg(R.UC_X86_REG_EIP)
            if self.irq is not None:
                nxt = self._backstop(code_addr, idle=self._n.callouts == entries)
                if isinstance(nxt, RunResult):
                    return nxt
                if self._deferred:
                    # Stopped inside one instruction's translation with an interrupt due:
                    # stop again at the next block start, which may be a boundary.
                    budget = 2
                code_addr = nxt

    def _backstop(self, code_addr: int, idle: bool) -> int | RunResult:
        """The backstop's budget ran out: a pending interrupt is taken if execution stands at
        a guest instruction boundary. If translated code ran the whole budget without
        entering the monitor (`idle`) with interrupts enabled, the guest is taken to be
        waiting for one in a loop that cannot advance virtual time itself, and virtual time
        moves to the next timer event. Otherwise time stays: with IF clear a guest cannot be
        waiting for an interrupt."""
        assert self.irq is not None
        self._deferred = False
        if self._shadow_slice != self._n.emu_starts:
            # A whole slice ran after the STI/MOV SS (`sti; jmp $`): its shadow is long over.
            self.vcpu.shadow_eip = None
        deadline = self.irq.next_deadline()
        waiting = idle and self.vcpu.interrupts_enabled
        if waiting and self.clock is not None and deadline is not None:
            self.clock.advance_to(deadline)
        tb = self.cache.block_at(code_addr)
        eip = tb.guest_eip_starting_at(code_addr - tb.code_addr) if tb is not None else None
        if eip is None or self._after_native_sti(tb, code_addr):
            # Inside one instruction's translation, or under an STI's shadow: the next
            # block start will do.
            self.irq.poll()
            self._deferred = self.vcpu.interrupts_enabled and self.irq.pending()
            return code_addr
        ext = self._interrupt_at(eip)
        if ext is None:
            assert tb is not None
            if not self.vcpu.interrupts_enabled and not trap_if_of(tb.key.variant) \
                    and self.irq.pending():
                # Time moved while IF is clear: the code that sets IF must now tell the monitor.
                self.eip = eip
                return self._enter(Goto(eip))
            return code_addr
        self.eip = eip
        return self._enter(self._deliver(ext))

    def _shadowed(self, tb: TranslationBlock, site: CalloutSite) -> bool:
        """Whether the instruction a callout runs before is under an STI/MOV SS shadow (one
        set by the monitor, or an STI that ran as it is just before)."""
        if self.vcpu.shadow_eip == site.insn.eip:
            return True
        k = next((i for i, r in enumerate(tb.insns) if r.insn is site.insn), 0)
        prev = tb.insns[k - 1].sensitivity if k > 0 else None
        return prev is not None and prev.rule is Rule.EMULATE and prev.kind == "sti"

    @staticmethod
    def _after_native_sti(tb: TranslationBlock | None, code_addr: int) -> bool:
        """Whether `code_addr` follows an STI that ran as it is (its shadow lasts)."""
        if tb is None:
            return False
        offs = [r.offset for r in tb.insns]
        i = bisect.bisect_left(offs, code_addr - tb.code_addr)
        if i == 0:
            return False
        prev = tb.insns[i - 1].sensitivity
        return prev.rule is Rule.EMULATE and prev.kind == "sti"

    def _enter(self, got: VcpuExit) -> int | RunResult:
        """The code address to go on at after a delivery."""
        if isinstance(got, Goto):
            self.eip = got.eip
            try:
                tb = self.block_for(got.eip)
            except TranslationError as exc:
                return RunResult("crash", EXIT_CRASH, str(exc), got.eip)
            tb.entries += 1
            return tb.code_addr
        if isinstance(got, Unsupported):
            return RunResult("crash", EXIT_CRASH, got.what, got.eip)
        raise InternalError(f"delivery gave {got}")

    def _skip_to_interrupt(self, eip: int) -> ExtInt | None:
        """The interrupt that ends a halt at `eip` once virtual time reaches the next timer
        events (None when no timer is armed)."""
        assert self.irq is not None and self.clock is not None
        for _ in range(64):  # a few events may pass with nothing unmasked (PIT OUT edges)
            ext = self._interrupt_at(eip)
            if ext is not None:
                return ext
            deadline = self.irq.next_deadline()
            if deadline is None:
                return None
            self.clock.advance_to(deadline)
        return None

    def _halt(self, eip: int) -> int | RunResult:
        """HLT: the vCPU sleeps until an interrupt; time moves to the next timer event (or
        passes on the host clock with --realtime)."""
        vcpu = self.vcpu
        vcpu.halted = True
        if not vcpu.interrupts_enabled:
            return RunResult("halt", EXIT_HALT, "guest halted with interrupts disabled", eip)
        irq = self.irq
        while irq is not None:
            ext = self._interrupt_at(eip)
            if ext is not None:
                self.eip = eip
                return self._enter(self._deliver(ext))
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return RunResult("limit", EXIT_LIMIT,
                                 f"time limit reached ({self.limits.timeout} s)", eip)
            deadline = irq.next_deadline()
            if self.realtime:
                wait = 0.05
                if deadline is not None:
                    wait = min(wait, max(0.0, (deadline - irq.clock.now_ns()) / 1e9))
                if self.wait_for_input is None or not self.wait_for_input(wait):
                    time.sleep(wait)
                continue
            if deadline is None:
                if self.wait_for_input is not None and self.wait_for_input(0.05):
                    continue
                break
            assert self.clock is not None
            self.clock.advance_to(deadline)
        return RunResult("halt", EXIT_HALT, "guest halted with interrupts enabled and nothing "
                         "that could wake it (no timer armed, no input)", eip)

    def _limit_result(self, code_addr: int) -> RunResult:
        tb = self.cache.block_at(code_addr)
        eip = tb.guest_eip_at(code_addr) if tb is not None else self.eip
        return RunResult("limit", EXIT_LIMIT, f"time limit reached ({self.limits.timeout} s)", eip)

    def _finish(self, stop: VcpuExit) -> RunResult | None:
        if isinstance(stop, Shutdown):
            return RunResult("exit-port", stop.status, stop.reason, self.eip)
        if isinstance(stop, Unsupported):
            return RunResult("crash", EXIT_CRASH, stop.what, stop.eip)
        return None

    def request_shutdown(self, status: int, reason: str) -> None:
        """Stop the CPU after the current instruction with process status `status`."""
        self._stop = Shutdown(status, reason)
        self.engine.stop()

    def _guest_eip_of(self, code_addr: int) -> tuple[TranslationBlock | None, int]:
        tb = self.cache.block_at(code_addr)
        if tb is None:
            return None, self.eip
        return tb, tb.guest_eip_at(code_addr)

    def _smc(self, page: int, code_addr: int) -> int | RunResult:
        """A write by translated code to a page holding code: retire the page's blocks and
        re-execute the writing instruction alone, so the following code is translated from
        the bytes as they are after the write."""
        self._n.smc += 1
        tb, eip = self._guest_eip_of(code_addr)
        if tb is None:
            raise InternalError(f"write fault outside translated code at 0x{code_addr:08x}")
        self.cache.invalidate_page(page, "guest write")
        self.engine.protect_page(page, False)
        return self._one_shot(eip)

    def _one_shot(self, eip: int) -> int:
        """The cache address of a block holding only the instruction at `eip` (it runs alone:
        an SMC re-run, the end of an interrupt shadow). It watches no page; the next one made
        for this EIP replaces it."""
        one = self._translate(self._key(eip, 1), watch=False)
        one.entries += 1
        self.eip = eip
        return one.code_addr

    def _cpu_exception(self, vector: int, code_addr: int) -> int | RunResult:
        _tb, eip = self._guest_eip_of(code_addr)
        if vector < 0:
            return RunResult("crash", EXIT_CRASH, "the CPU stopped on an unexpected error", eip)
        self.engine.forget_exception()
        code = 0 if vector in ERROR_CODE_VECTORS else None
        return self._enter(self._deliver(Fault(vector, code, eip)))

    # -- statistics ---
    def stats(self) -> RunStats:
        """A snapshot of the counters."""
        n = self._n
        fills = self.engine.tlb_fills
        return RunStats(
            guest_insns=self._guest_insns,
            python_entries=n.callouts + n.emu_starts + fills,
            callouts=n.callouts - n.slot_exits,
            slot_exits=n.slot_exits,
            emu_starts=n.emu_starts,
            backstops=n.backstops,
            backstop_budget=BACKSTOP_BLOCKS,
            backstop_mode=self.engine.backstop.mode,
            tlb_fills=fills,
            smc_faults=n.smc,
            interrupts=dict(n.vectors),
            wall_seconds=self._wall,
        )


def _name(vector: int) -> str:
    return EXCEPTION_NAMES.get(vector, f"vector {vector}")
