"""AccessWatch: notices the guest's accesses that data and I/O breakpoints match, for the #DB
trap the monitor raises at the next instruction boundary.

Accesses of copied code: a UC_HOOK_MEM_WRITE (and UC_HOOK_MEM_READ when a breakpoint watches
reads) hook, installed only while a data breakpoint is enabled. Unicorn 2.1.4 in its virtual
TLB mode gives the hook the *physical* address of an access (measured: a write through an
alias of the watched page arrives with the same address as one through the watched page), so
the hook spans the guest-physical bytes the watched linear ranges map to now, placed again
whenever the guest's paging changes (CR0/CR3/CR4, INVLPG). With paging off physical is linear;
with paging on, an access inside the span counts only when the instruction making it
addresses the watched linear page (its memory operands, its stack), so an alias does not
match, as on a PC. Translated code and the monitor's page are Unicorn-physical memory above
4 GiB, outside every span: the monitor's own code and data never match. The Python callback
runs only for accesses inside the span, but while the hook exists every access of the code
Unicorn compiles takes its slow path: a loop of loads and stores that never hits goes from
1.9 to 11.5 ns a guest instruction (`python tools/watch_cost.py`; the hook alone makes it 5x,
one-instruction blocks alone 2.3x).

A Unicorn hook cannot raise an exception, and a stop asked for by `emu_stop` in the middle of a
block resumes at the block's start (bt/backstop.py): the hook records the hit and trips the
backstop, whose stop comes at the next block start; while data breakpoints are enabled every
translated block holds one guest instruction (bt/keypolicy.py), so that start is the next
instruction boundary (REP string instructions start a Unicorn block at every iteration: the
trap comes after the iteration that hit, with EIP at the REP, as the SDM says and QEMU does).

Accesses the monitor makes for a callout (a descriptor load, IRET's pops, the memory side of
INS/OUTS) reach `monitor_access` through GuestMemory with their linear address, and port
accesses of IN/OUT/INS/OUTS reach `port`; the exit dispatcher raises the trap after the
callout. Accesses made while an event is delivered are not reported (QEMU 7.2 aborts when an
interrupt frame's push hits a watchpoint: there is no reference to follow).
"""

from __future__ import annotations

from collections.abc import Sequence

from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE, Uc
from unicorn import x86_const as R

from bt.breakpoints import Watch, data_hits, io_hits
from bt.cache.cache import TranslationCache
from bt.callouts.context import CalloutContext
from bt.engine import Engine
from bt.translator.insn import MemOp
from bt.translator.scanner import Scanner
from bt.types import CodeAddr

_PAGE = 0xFFFFF000
# Instructions that read or write the stack besides their operands.
_STACK = ("push", "pop", "call", "ret", "enter", "leave", "iret", "int")


class AccessWatch:
    """The enabled data and I/O breakpoints and the B0-B3 bits hit since the last `take`."""

    def __init__(self, engine: Engine, ctx: CalloutContext, cache: TranslationCache) -> None:
        self._engine = engine
        self._ctx = ctx
        self._cache = cache
        self.data: tuple[Watch, ...] = ()
        self.io: tuple[Watch, ...] = ()
        self.pending = 0  # B0-B3 of the breakpoints hit, not yet raised
        self.in_callout = False  # monitor accesses count only while a callout's semantics run
        self._hook: int | None = None
        self._phys: tuple[tuple[Watch, int], ...] = ()  # each watch and its physical start
        self._paged = False
        self._scanner = Scanner()  # copied instructions are scanned without their operands

    @property
    def hooked(self) -> bool:
        """Whether the memory hook is installed now."""
        return self._hook is not None

    @property
    def precise(self) -> bool:
        """Whether copied code's hits can stop at the next instruction boundary (the native
        backstop's stop at a block start; its fallback counts instructions instead)."""
        return self._engine.backstop.native

    def arm(self, data: Sequence[Watch], io: Sequence[Watch]) -> bool:
        """Watch these breakpoints from now on; True when the data breakpoints changed (the
        caller flushes the translations, so that Unicorn compiles them again with the hook,
        or without it)."""
        self.io = tuple(io)
        data = tuple(data)
        if data == self.data:
            return False
        self.data = data
        self.place()
        return True

    def place(self) -> None:
        """Put the hook over the physical bytes the watched linear ranges map to now."""
        mem = self._ctx.mem
        mmu = mem.mmu
        self._paged = mmu is not None and mmu.enabled
        placed = []
        for w in self.data:
            phys = mem.probe(w.start)
            if phys is not None:  # unmapped: no access reaches it until it is mapped again
                placed.append((w, phys))
        span = (
            (min(p for _, p in placed), max(p + w.size for w, p in placed) - 1) if placed else None
        )
        uc = self._engine.uc
        if self._hook is not None:
            uc.hook_del(self._hook)
            self._hook = None
        self._phys = tuple(placed)
        if span is not None:
            kinds = UC_HOOK_MEM_WRITE
            if not all(w.writes_only for w in self.data):
                kinds |= UC_HOOK_MEM_READ
            # An access straddling into the span from below is reported at its first byte.
            begin = max(span[0] - 7, 0)
            self._hook = uc.hook_add(kinds, self._copied_access, None, begin, span[1])

    def _copied_access(
        self, uc: Uc, access: int, address: int, size: int, _value: int, _ud: object
    ) -> None:
        """Unicorn's memory hook: an access of translated code at physical `address` (the
        monitor's own accesses, in its monitor mode, never match)."""
        try:
            if self._engine.view.monitor_mode:
                return
            write = access == UC_MEM_WRITE
            hits = 0
            for w, phys in self._phys:
                if not phys < address + size < phys + w.size + size or (
                    w.writes_only and not write
                ):
                    continue
                if self._paged and not self._addresses(w.start & _PAGE):
                    continue  # the same bytes through an alias of the watched page
                hits |= data_hits((w,), w.start + (address - phys), size, write)
            if hits:
                self.pending |= hits
                self._engine.backstop.trip()
        except BaseException as exc:  # relayed after emu_start returns, as the engine does
            self._engine.pending_error = exc
            uc.emu_stop()

    def _addresses(self, page: int) -> bool:
        """Whether the guest instruction executing now addresses linear page `page` (its
        memory operands with the registers as they are, its stack): an access of the
        watched bytes' physical page through another linear page is an alias's."""
        code_addr = CodeAddr(self._engine.read_reg(R.UC_X86_REG_EIP))
        tb = self._cache.block_at(code_addr)
        if tb is None:
            return True
        eip = tb.guest_eip_at(code_addr)
        copied = next(r.insn for r in tb.insns if r.insn.eip == eip)
        insn = self._scanner.decode(copied.raw, copied.eip, copied.linear)
        if insn is None:
            return True
        ctx = self._ctx
        ctx.begin()
        reach: list[int] = []
        for op in insn.operands:
            if isinstance(op, MemOp):
                lin = ctx.linear(op)
                reach += (lin, lin + op.size - 1)
        if insn.mnemonic.startswith(_STACK):
            sp = (ctx.seg("ss").base + ctx.reg("esp")) & 0xFFFFFFFF
            reach += (sp - 64, sp + 64)
        return any((a & _PAGE) == page for a in reach)

    def monitor_access(self, linear: int, size: int, write: bool) -> None:
        """GuestMemory's report of an access the monitor made for the guest."""
        if self.in_callout and self.data:
            self.pending |= data_hits(self.data, linear, size, write)

    def port(self, port: int, size: int) -> None:
        """A port access of IN/OUT/INS/OUTS."""
        if self.io:
            self.pending |= io_hits(self.io, port, size)

    def take(self) -> int:
        """The bits hit since the last take, cleared."""
        hits, self.pending = self.pending, 0
        return hits
