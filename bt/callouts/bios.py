"""The BIOS service callout: a block that starts at a ROM entry point runs the vector's service.

The built-in BIOS's ROM (bt/bios/) holds, at each service's entry, the marker UD2 and then the
x86 code that returns to the caller (usually IRET). The translator makes a block starting at
an entry the callout `bios` (translator/scanner.py `services`), whose handler calls the
vector's `Service` (bt/bios/api.py) with the caller's registers, guest-physical memory, the
port bus and virtual time, then goes on after the marker. A service with nothing to return yet
(WAIT) halts the vCPU with interrupts enabled and is called again when the ROM entry is
reached after the interrupt, as SeaBIOS's `sti; hlt` loops do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bt.bios.api import (
    BiosCall,
    BootAction,
    Outcome,
    Reboot,
    Service,
    ServiceResult,
    Unsupported,
)
from bt.bus import Bus
from bt.callouts.context import CalloutContext
from bt.callouts.segments import load_segment
from bt.errors import InternalError
from bt.exits import Halt, VcpuExit
from bt.exits import Unsupported as Stop
from bt.memory import GuestMemory
from bt.translator.insn import GuestInsn, ImmOp
from bt.types import PAGE_SIZE
from bt.vcpu import IF

_FLAG_BITS = {"cf": 1 << 0, "zf": 1 << 6, "if": IF}


class CalloutCpu:
    """BiosCpu over a callout's registers: the caller's FLAGS image is the one its INT pushed,
    at SS:SP + 4 (the entry runs before anything else is pushed)."""

    def __init__(self, ctx: CalloutContext) -> None:
        self.ctx = ctx

    def reg(self, name: str) -> int:
        return self.ctx.reg(name)

    def set_reg(self, name: str, value: int) -> None:
        self.ctx.set_reg(name, value)

    def seg(self, name: str) -> int:
        return self.ctx.vcpu.segs[name].selector

    def set_seg(self, name: str, selector: int) -> None:
        load_segment(self.ctx, name, selector & 0xFFFF, 0)

    def linear(self, seg: str, offset: int) -> int:
        return (self.ctx.vcpu.segs[seg].base + (offset & 0xFFFF)) & 0xFFFFFFFF

    def _image(self) -> int:
        ss = self.ctx.vcpu.segs["ss"]
        return ss.base + ((self.ctx.reg("sp") + 4) & 0xFFFF)

    def flag(self, name: str) -> bool:
        return bool(self.ctx.mem.read_u(self._image(), 2) & _FLAG_BITS[name])

    def set_flag(self, name: str, value: bool) -> None:
        at = self._image()
        image = self.ctx.mem.read_u(at, 2)
        bit = _FLAG_BITS[name]
        self.ctx.mem.write_u(at, 2, image | bit if value else image & ~bit)


class ProtectedCpu(CalloutCpu):
    """BiosCpu for a far call from 32-bit protected mode: offsets are 32 bits through the
    caller's segment bases, and the result flags go into EFLAGS itself (RETF keeps them)."""

    def set_seg(self, name: str, selector: int) -> None:
        raise InternalError("a 32-bit BIOS service loaded a segment register")

    def linear(self, seg: str, offset: int) -> int:
        return (self.ctx.vcpu.segs[seg].base + offset) & 0xFFFFFFFF

    def flag(self, name: str) -> bool:
        return bool(self.ctx.guest_eflags() & _FLAG_BITS[name])

    def set_flag(self, name: str, value: bool) -> None:
        bit = _FLAG_BITS[name]
        if bit not in (_FLAG_BITS["cf"], _FLAG_BITS["zf"]):
            raise InternalError(f"a 32-bit BIOS service set {name}")
        flags = self.ctx.guest_eflags()
        self.ctx.set_arith_flags(flags | bit if value else flags & ~bit)


class LinearRam:
    """PhysMemory for a 32-bit service: the caller's addresses are linear (its paging)."""

    def __init__(self, mem: GuestMemory) -> None:
        self.mem = mem

    def read_phys(self, phys: int, n: int) -> bytes:
        return self.mem.read(phys, n)

    def write_phys(self, phys: int, data: bytes) -> None:
        self.mem.write(phys, data)


class PhysicalRam:
    """PhysMemory over GuestMemory: accesses of any length, page by page (a sector read may
    cross pages holding translated code: each one is told, bt/smc.py)."""

    def __init__(self, mem: GuestMemory) -> None:
        self.mem = mem

    def read_phys(self, phys: int, n: int) -> bytes:
        return b"".join(self.mem.read_phys(a, b - a) for a, b in _pages(phys, n))

    def write_phys(self, phys: int, data: bytes) -> None:
        for a, b in _pages(phys, len(data)):
            self.mem.write_phys(a, data[a - phys : b - phys])


def _pages(start: int, n: int) -> list[tuple[int, int]]:
    out = []
    at, end = start, start + n
    while at < end:
        nxt = min(end, (at | (PAGE_SIZE - 1)) + 1)
        out.append((at, nxt))
        at = nxt
    return out


class BiosRuntime:
    """The services of the ROM's entry points, and what the guest asked for that is missing."""

    def __init__(
        self,
        entries: Mapping[int, tuple[int, Service]],
        ports: Bus,
        now_ns: Callable[[], int],
        protected: Mapping[int, Service] | None = None,
    ) -> None:
        # Guest-linear address of a marker -> its vector (the scanner's `services`) and
        # the service it calls.
        self.entries = {addr: vector for addr, (vector, _s) in entries.items()}
        self._services = {addr: service for addr, (_v, service) in entries.items()}
        # Guest-physical address of a 32-bit entry's marker -> its service.
        self._protected = dict(protected or {})
        self.ports = ports
        self.now_ns = now_ns
        self.unsupported: dict[tuple[int, int], str] = {}
        # Told once of each service the BIOS does not implement (the CLI prints the line).
        self.on_unsupported: Callable[[str], None] | None = None

    def call(self, ctx: CalloutContext, insn: GuestInsn, vector: int) -> VcpuExit | None:
        """Run the service of the marker `insn` for the caller whose registers `ctx` holds."""
        cpu = CalloutCpu(ctx)
        mem: PhysicalRam | LinearRam = PhysicalRam(ctx.mem)
        service = self._services.get(insn.linear)
        if service is None and self._protected:
            service = self._protected.get(ctx.mem.probe(insn.linear) or -1)
            cpu, mem = ProtectedCpu(ctx), LinearRam(ctx.mem)
        got: ServiceResult
        if service is None:
            got = Unsupported(vector, ctx.reg("ah"), f"INT {vector:02X}h")
        else:
            got = service(BiosCall(vector, cpu, mem, self.ports, self.now_ns()))
        if isinstance(got, Unsupported):
            key = (got.vector, got.ah)
            if key not in self.unsupported:
                self.unsupported[key] = got.what
                if self.on_unsupported is not None:
                    self.on_unsupported(f"BIOS: {got.what} is not implemented")
            if got.cf:
                cpu.set_flag("cf", True)
            if got.code is not None:
                ctx.set_reg("ah", got.code)
            return None
        if isinstance(got, Reboot):
            what = (
                "no bootable device"
                if got.action is BootAction.NO_BOOTABLE_DEVICE
                else (f"INT {got.vector:02X}h asked to {got.action.value} (not yet supported)")
            )
            return Stop(what, insn.eip)
        if got is Outcome.WAIT:
            ctx.vcpu.eflags_sys |= IF  # the service's own STI before it waits
            return Halt(insn.eip)
        return None


def bios(ctx: CalloutContext, insn: GuestInsn) -> VcpuExit | None:
    """A ROM entry point: the service of the vector it belongs to."""
    runtime = ctx.bios
    op = insn.operands[0]
    assert runtime is not None and isinstance(op, ImmOp)
    return runtime.call(ctx, insn, op.value)
