"""Tracer: records what the guest executed (blocks or instructions), its port I/O and interrupts.

Only guest-visible state is written: guest addresses, general registers, EFLAGS as the guest
sees it, the guest's segment selectors and CR0/CR3; never a translation-cache address.
"""

from __future__ import annotations

from unicorn import UC_HOOK_BLOCK, UC_HOOK_CODE
from unicorn import x86_const as R

from bt.bus import Bus, BusDevice
from bt.cache.block import TranslationBlock
from bt.cache.cache import TranslationCache
from bt.engine import GPRS, Engine
from bt.layout import TC_LINEAR, TC_SIZE
from bt.regfile import RegisterFile
from bt.tracefile import TraceWriter
from bt.translator.records import Rule
from bt.types import CodeAddr
from bt.vcpu import IF, Vcpu

_REGS = (*GPRS, R.UC_X86_REG_EFLAGS)


class Tracer:
    """Hooks the engine to write a bt-trace file; made before the guest runs (hooks only apply
    to code Unicorn compiles after they are added)."""

    def __init__(
        self,
        engine: Engine,
        cache: TranslationCache,
        vcpu: Vcpu,
        writer: TraceWriter,
        level: str,
        window: tuple[int, int] | None = None,
    ) -> None:
        self._cache = cache
        self._window = window  # linear [start, end) of the code recorded (None: all)
        self._vcpu = vcpu
        self._writer = writer
        self._file = RegisterFile(engine.uc, _REGS)
        self._uc = engine.uc
        self._segments = engine.segments  # real mode: the guest's own segment loads
        self.records = 0
        self._prev: TranslationBlock | None = None  # the block entered last (block level)
        hook = UC_HOOK_BLOCK if level == "block" else UC_HOOK_CODE
        self._insn_level = level != "block"
        engine.uc.hook_add(hook, self._on_code, None, TC_LINEAR, TC_LINEAR + TC_SIZE - 1)
        # Under UC_HOOK_CODE, Unicorn 2.1.4 hands back wrong lazily computed flags when an
        # instruction after a MUL faults (tests/test_trace_regression.py, hhkernel): the flags
        # read at the faulting instruction's start are put back before the fault is handled.
        self._at = -1
        self._flags = 0
        self._again = -1  # an address whose next start is a re-run, not a new execution
        if self._insn_level:
            engine.on_fault = self._fault_flags
        engine.on_retry.append(self._retried)

    def _on_code(self, uc: object, address: int, size: int, _ud: object) -> None:
        if address == self._again:
            self._again = -1
            return
        tb = self._cache.block_at(CodeAddr(address))
        if tb is None:
            return
        off = address - tb.code_addr
        if self._insn_level:
            eip = tb.guest_eip_starting_at(off)
            if eip is None or not self._shown(tb, eip):
                return
            self._at = address
        elif off == 0:
            eip = tb.key.eip
            if not self._shown(tb, eip):
                return
            last = tb.insns[-1] if tb.insns else None
            self.record(
                eip,
                last.insn.eip + last.insn.size if last is not None else None,
                cut=self._cuts(tb),
            )
            self._prev = tb
            return
        else:
            return
        self.record(eip)

    def _shown(self, tb: TranslationBlock, eip: int) -> bool:
        """Whether guest code at `eip` of `tb` lies in the recorded window (QEMU's -dfilter:
        a disk boot's trace leaves out the BIOS, so each BIOS call is one step)."""
        window = self._window
        if window is None:
            return True
        linear = (tb.key.cs_base + eip) & 0xFFFFFFFF
        return window[0] <= linear < window[1]

    def _cuts(self, tb: TranslationBlock) -> bool:
        """Whether entering `tb` continues the previous block, which stopped before the end
        of its code: the re-run of a self-modifying write (a one-instruction block), or the
        monitor resuming after a callout inside the block (a segment load, say). A copied
        instruction never hands control to the monitor, so a block entered right after one
        is a loop head the previous block fell through, not a cut."""
        if tb.key.max_insns == 1:
            return True
        prev = self._prev
        if prev is None or not prev.key.eip < tb.key.eip:
            return False
        return any(
            r.insn.eip + r.insn.size == tb.key.eip and r.sensitivity.rule is not Rule.COPY
            for r in prev.insns
        )

    def _retried(self, code_addr: int) -> None:
        """The instruction at `code_addr` will run again after a shadow fill the guest does
        not see: not a second execution record (and its flags as they were). At block level
        only a block start is recorded."""
        if not self._insn_level:
            tb = self._cache.block_at(CodeAddr(code_addr))
            if tb is None or tb.code_addr != code_addr:
                return
        self._again = code_addr
        self._fault_flags(code_addr)

    def _fault_flags(self, code_addr: int) -> None:
        """The instruction at `code_addr` faulted: its flags as they were when it started."""
        if code_addr == self._at:
            self._uc.reg_write(R.UC_X86_REG_EFLAGS, self._flags)

    def record(self, eip: int, end: int | None = None, cut: bool = False) -> None:
        """Write one execution record for guest `eip` (a block ending at `end`, continuing a
        block cut short when `cut`) with the current guest-visible state."""
        vals = self._file.read()
        self._flags = vals[8]
        if self._segments.real:
            self._segments.sync()
        v = self._vcpu
        segs = v.segs
        # IF is the real CPU's while translated code runs (bt/vcpu.py).
        eflags = (v.eflags(vals[8]) & ~IF) | (vals[8] & IF)
        regs = [
            *vals[:8],
            eflags,
            segs["cs"].selector,
            segs["ss"].selector,
            segs["ds"].selector,
            segs["es"].selector,
            segs["fs"].selector,
            segs["gs"].selector,
            v.cr0,
            v.cr3,
        ]
        self._writer.exec(eip, regs, end, cut)
        self.records += 1

    def interrupt(self, vector: int, error_code: int | None, eip: int) -> None:
        """An interrupt or exception delivered to the guest."""
        self._writer.interrupt(vector, error_code, eip)

    def watch_ports(self, bus: Bus) -> Bus:
        """A bus that forwards to `bus` and records every access."""
        return _TracingBus(bus, self._writer)

    def close(self) -> None:
        """Flush and close the trace file."""
        self._writer.close()


class _TracingBus(Bus):
    """Port bus wrapper that records accesses (the devices still see only offsets)."""

    def __init__(self, inner: Bus, writer: TraceWriter) -> None:
        super().__init__()
        self._inner = inner
        self._writer = writer

    def register(self, base: int, length: int, device: BusDevice, name: str) -> None:
        self._inner.register(base, length, device, name)

    def read(self, addr: int, size: int) -> int:
        value = self._inner.read(addr, size)
        self._writer.io_in(addr, size, value)
        return value

    def write(self, addr: int, size: int, value: int) -> None:
        self._writer.io_out(addr, size, value)
        self._inner.write(addr, size, value)
