"""CalloutContext: what a callout sees of the machine (registers, virtual CPU, memory, ports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from unicorn import x86_const as R

from bt.bus import Bus
from bt.callouts.fpustate import FpuPointers
from bt.cpumodel import DEFAULT, CpuModel
from bt.engine import GPRS, Engine
from bt.memory import GuestMemory
from bt.regfile import RegisterFile
from bt.translator.insn import ImmOp, MemOp, Operand, RegOp
from bt.vcpu import ARITH_FLAGS, SegmentCache, Vcpu

if TYPE_CHECKING:
    from bt.callouts.bios import BiosRuntime

_GPR32 = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi")
# name -> (index in _GPR32, shift, mask)
_SUBREG: dict[str, tuple[int, int, int]] = {}
for _i, _n in enumerate(_GPR32):
    _SUBREG[_n] = (_i, 0, 0xFFFFFFFF)
    _SUBREG[_n[1:]] = (_i, 0, 0xFFFF)
for _i, _n in enumerate(("a", "c", "d", "b")):
    _SUBREG[_n + "l"] = (_i, 0, 0xFF)
    _SUBREG[_n + "h"] = (_i, 8, 0xFF)


class TimeStampCounter(Protocol):
    """The guest's TSC (bt.timebase.TimeStampCounter, restated: the time base owns it)."""

    @property
    def value(self) -> int:
        """The counter now."""
        ...

    adjust: int

    def rdtsc(self) -> int:
        """RDTSC: the counter now."""
        ...

    def write(self, value: int) -> None:
        """WRMSR 0x10: set the counter."""
        ...

    def write_adjust(self, value: int) -> None:
        """WRMSR IA32_TSC_ADJUST: move the counter by the change."""
        ...


class BreakpointWatch(Protocol):
    """The data and I/O breakpoints a callout reports its port accesses to (bt/watchpoints.py)."""

    pending: int  # B0-B3 hit so far

    @property
    def io(self) -> tuple[object, ...]:
        """The enabled I/O breakpoints (none: port accesses need not be looked at)."""
        ...

    def port(self, port: int, size: int) -> None:
        """A port access of IN/OUT/INS/OUTS."""
        ...


class CalloutContext:
    """Registers of the real CPU read once per callout and written back once, plus the
    virtual CPU, guest memory and the port bus. One instance serves every callout."""

    def __init__(
        self,
        engine: Engine,
        vcpu: Vcpu,
        mem: GuestMemory,
        io: Bus,
        tsc: TimeStampCounter,
    ) -> None:
        self.engine = engine
        self.vcpu = vcpu
        self.mem = mem
        self.io = io
        self._regs: list[int] = []
        self._eflags = 0
        self._dirty = False
        self._flags_dirty = False
        self._loaded = False
        self.keep_progress = False
        self.tsc = tsc
        self.fpu: FpuPointers | None = None  # the x87 pointers, frozen before selectors change
        self.watch: BreakpointWatch | None = None  # data and I/O breakpoints (bt/hookexit.py)
        # Told of IA32_APIC_BASE after each WRMSR (the local APIC follows it: bt/apicsetup.py).
        self.on_apic_base: Callable[[int], None] | None = None
        self.cpu: CpuModel = DEFAULT  # the CPU model the guest sees (`--cpu`)
        self.bios: BiosRuntime | None = None  # the built-in BIOS's services (bt/callouts/bios.py)
        self._file = RegisterFile(engine.uc, GPRS + (R.UC_X86_REG_EFLAGS,))

    # -- register file ---
    def begin(self, snapshot: list[int] | None = None) -> None:
        """Start a callout, from the engine's register snapshot (EIP, GPRs, EFLAGS) when it
        has one; otherwise the registers are read (one batch) when first needed."""
        self._dirty = False
        self._flags_dirty = False
        self.keep_progress = False
        if snapshot is not None:
            self._regs = snapshot[1:9]
            self._eflags = snapshot[9]
            self._loaded = True
        else:
            self._loaded = False

    def _load(self) -> None:
        vals = self._file.read()
        self._regs = vals[:8]
        self._eflags = vals[8]
        self._loaded = True

    def discard(self) -> None:
        """Forget the register changes of a callout that faulted (it had no effect), unless it
        said its progress stays (`keep_progress`: REP INS/OUTS stopped part-way)."""
        if not self.keep_progress:
            self._dirty = self._flags_dirty = False
            self._loaded = False

    def commit(self) -> None:
        """Write back what the callout changed (one batch)."""
        if self._dirty or self._flags_dirty:
            self._file.write([*self._regs, self._eflags])
        self._dirty = self._flags_dirty = False

    def reg(self, name: str) -> int:
        """A general register by Capstone name (eax, ax, al, ah ...)."""
        if not self._loaded:
            self._load()
        i, shift, mask = _SUBREG[name]
        return (self._regs[i] >> shift) & mask

    def set_reg(self, name: str, value: int) -> None:
        """Set a general register; sub-registers keep the other bits (as x86 does)."""
        if not self._loaded:
            self._load()
        i, shift, mask = _SUBREG[name]
        self._regs[i] = (self._regs[i] & ~(mask << shift)) | ((value & mask) << shift)
        self._dirty = True

    @property
    def esp(self) -> int:
        """The guest stack pointer."""
        return self.reg("esp")

    def guest_eflags(self) -> int:
        """EFLAGS as the guest sees it."""
        if not self._loaded:
            self._load()
        return self.vcpu.eflags(self._eflags)

    def set_arith_flags(self, value: int) -> None:
        """Load the arithmetic flags into the real CPU."""
        if not self._loaded:
            self._load()
        self._eflags = (self._eflags & ~ARITH_FLAGS) | (value & ARITH_FLAGS)
        self._flags_dirty = True

    # -- operands ---
    def seg(self, name: str) -> SegmentCache:
        """The guest's view of segment register `name`."""
        return self.vcpu.segs[name]

    def ea(self, op: MemOp) -> int:
        """Offset (effective address) of a memory operand."""
        off = op.disp
        if op.base:
            off += self.reg(op.base)
        if op.index:
            off += self.reg(op.index) * op.scale
        return off & (0xFFFF if op.addr_size == 2 else 0xFFFFFFFF)

    def linear(self, op: MemOp, extra: int = 0) -> int:
        """Guest-linear address of a memory operand (plus `extra` bytes)."""
        seg = self.vcpu.segs[op.seg or "ds"]
        return (seg.base + self.ea(op) + extra) & 0xFFFFFFFF

    def read_op(self, op: Operand, size: int | None = None) -> int:
        """Value of a register, immediate or memory operand."""
        if isinstance(op, RegOp):
            if op.name in self.vcpu.segs:
                return self.vcpu.segs[op.name].selector
            return self.reg(op.name)
        if isinstance(op, ImmOp):
            return op.value
        return self.mem.read_u(self.linear(op), size or op.size)

    def write_op(self, op: Operand, value: int, size: int | None = None) -> None:
        """Store to a register or memory operand."""
        if isinstance(op, RegOp):
            self.set_reg(op.name, value)
        elif isinstance(op, MemOp):
            self.mem.write_u(self.linear(op), size or op.size, value)
        else:
            raise TypeError("cannot store to an immediate")

    # -- stack ---
    def _sp_mask(self) -> int:
        return 0xFFFFFFFF if self.vcpu.segs["ss"].big else 0xFFFF

    def push(self, value: int, size: int, system: bool = False) -> None:
        """Push `size` bytes on the guest stack (`system`: as the supervisor, for the frame
        of a delivery to an inner privilege level)."""
        if not self._loaded:
            self._load()
        mask = self._sp_mask()
        sp = (self._regs[4] - size) & mask
        self.mem.write_u(self.vcpu.segs["ss"].base + sp, size, value, system)
        self._regs[4] = (self._regs[4] & ~mask) | sp
        self._dirty = True

    def peek(self, size: int, offset: int = 0) -> int:
        """Read `size` bytes at the guest's stack pointer plus `offset`, without popping."""
        if not self._loaded:
            self._load()
        mask = self._sp_mask()
        sp = (self._regs[4] + offset) & mask
        return self.mem.read_u(self.vcpu.segs["ss"].base + sp, size)

    def pop(self, size: int) -> int:
        """Pop `size` bytes from the guest stack."""
        value = self.peek(size)
        self.adjust_sp(size)
        return value

    def adjust_sp(self, delta: int) -> None:
        """Move the guest stack pointer by `delta` bytes."""
        if not self._loaded:
            self._load()
        mask = self._sp_mask()
        sp = (self._regs[4] + delta) & mask
        self._regs[4] = (self._regs[4] & ~mask) | sp
        self._dirty = True

    # -- descriptor tables (bt.descriptors.DescriptorTables) ---
    @property
    def gdt_base(self) -> int:
        """Guest GDTR base."""
        return self.vcpu.gdtr[0]

    @property
    def gdt_limit(self) -> int:
        """Guest GDTR limit."""
        return self.vcpu.gdtr[1]

    @property
    def ldt_base(self) -> int:
        """Guest LDT base (from LDTR's cache)."""
        return self.vcpu.ldtr.base

    @property
    def ldt_limit(self) -> int | None:
        """Guest LDT limit, None when LDTR is null."""
        return None if (self.vcpu.ldtr.selector & ~3) == 0 else self.vcpu.ldtr.limit

    def read(self, linear_addr: int, size: int) -> bytes:
        """Guest memory for descriptor-table reads (supervisor accesses at any CPL)."""
        return self.mem.read(linear_addr, size, system=True)

    def load_segment_cache(self, name: str, cache: SegmentCache) -> None:
        """Set the guest's segment register `name` (CS too) and mirror it in the real CPU."""
        if self.fpu is not None:
            self.fpu.freeze()  # FCS/FDS name the selectors the last x87 instruction ran with
        self.vcpu.segs[name] = cache
        if name != "cs":
            null = self.vcpu.null(cache.selector)
            self.engine.load_shadow(
                name, cache.base, cache.limit, cache.flags, null=null, selector=cache.selector
            )
