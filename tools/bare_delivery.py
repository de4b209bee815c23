"""CPU-exception delivery for the bare-Unicorn yardstick: what a CPU does at CPL 0, no monitor.

Unicorn never delivers an exception through the IDT (DESIGN.md fact 1), so a guest that takes
faults (a paging guest's #PF) cannot run on bare Unicorn without this. The delivery is the
SDM's same-privilege path through a 32-bit interrupt or trap gate (vol. 3, 6.12.1): push
EFLAGS, CS, EIP and the error code on the current stack, clear TF, NT, RF and VM (and IF
through an interrupt gate), continue at the gate's offset. Not checked: the gate's DPL and the
target code descriptor. What stops the run instead: an exception at CPL > 0 (that needs the
TSS stack switch), a vector outside the IDT or not a present 32-bit gate, a frame push that
faults. Where the parts come from:

- CR2: Unicorn's own page walker sets it when it raises #PF (checked on a scratch CPU below).
- The error code: Unicorn computes it (env->error_code) but has no register for it; it is read
  from a saved context at an offset found at start-up by faulting a scratch CPU three times
  with known codes (0, 2, 3) and keeping the one dword that holds them. So it is exactly what
  Unicorn's walker computed, including QEMU's W=0 for a read-modify-write of a not-present page.
- Both would be lost with an `emu_start` end address: once the hook has stopped the CPU,
  Unicorn walks the guest's tables for the end address's page, and when that has no mapping
  the failed walk overwrites CR2, the error code and the previous exception (measured: end
  0xFFFFFFFF gave CR2 0xFFFFFFFE and a pending #DF). The runner gives none: Unicorn's exit
  list is on and empty, so only a hook's `emu_stop` ends a run.
- The pushed EIP: where Unicorn left EIP, the faulting instruction for a fault. A software
  `int n` is not told apart from an exception (no benchmark uses one on 8, 10-14, 17).
- Unicorn's "previous exception" (fact 2) is reset in the same saved context, or the second
  #PF would arrive as #DF.

The hook stops the CPU (an EIP set inside the hook is lost, fact 3) and `deliver` runs between
two `emu_start`s: a context save and restore, one batch of register reads through Unicorn's C
API (bt.regfile) and one of writes, and the frame written into guest RAM through the guest's
page tables (bt.paging.PageWalker over the RAM Unicorn uses in place, setting the stack page's
A/D bits as the CPU would).
"""

from __future__ import annotations

import ctypes
import struct

from unicorn import UC_HOOK_INTR, Uc
from unicorn import x86_const as R
from unicorn.unicorn_py3.arch.intel import UcRegMMR
from unicorn.unicorn_py3.unicorn import uclib

from bt.paging import READ, WRITE, PageFault, PageWalker
from bt.prevexception import exception_offsets
from bt.regfile import RegisterFile

ERROR_CODE_VECTORS = frozenset((8, 10, 11, 12, 13, 14, 17))
_TF, _IF, _NT, _RF, _VM = 1 << 8, 1 << 9, 1 << 14, 1 << 16, 1 << 17
_PAGING_REGS = (R.UC_X86_REG_CR0, R.UC_X86_REG_CR3, R.UC_X86_REG_CR4)
_FRAME_REGS = (R.UC_X86_REG_EIP, R.UC_X86_REG_ESP, R.UC_X86_REG_EFLAGS, R.UC_X86_REG_CS)
_DELIVERY_REGS = (*_FRAME_REGS, *_PAGING_REGS)
_U32, _U64, _GATE = struct.Struct("<I"), struct.Struct("<Q"), struct.Struct("<II")


class HostRam:
    """Guest RAM (the host memory Unicorn runs in place) as the walker reads page tables."""

    def __init__(self, ram: memoryview) -> None:
        self._ram = ram

    def read_u32(self, phys: int) -> int:
        return int(_U32.unpack_from(self._ram, phys)[0])

    def read_u64(self, phys: int) -> int:
        return int(_U64.unpack_from(self._ram, phys)[0])

    def write_u32(self, phys: int, value: int) -> None:
        _U32.pack_into(self._ram, phys, value)


class BareDelivery:
    """Takes CPU exceptions from Unicorn's interrupt hook and delivers them through the IDT."""

    def __init__(self, uc: Uc, ram: memoryview) -> None:
        self._uc = uc
        self._ram = ram
        error_at, old_exception_at = exception_offsets()
        self._ctx = uc.context_save()  # one saved context, updated at each delivery
        base = ctypes.cast(self._ctx.context, ctypes.c_void_p).value or 0
        self._error = ctypes.c_uint32.from_address(base + error_at)
        self._old_exception = ctypes.c_int32.from_address(base + old_exception_at)
        self.walker = PageWalker(HostRam(ram))
        self._paging = RegisterFile(uc, _PAGING_REGS)
        self._regs = RegisterFile(uc, _DELIVERY_REGS)
        self._frame_regs = RegisterFile(uc, (R.UC_X86_REG_ESP, R.UC_X86_REG_EFLAGS))
        self._idtr = UcRegMMR()
        self.pending: int | None = None  # the vector taken, until delivered
        self.delivered = 0
        uc.hook_add(UC_HOOK_INTR, self._on_intr)

    def _on_intr(self, uc: Uc, vector: int, _ud: object) -> None:
        self.pending = vector
        uc.emu_stop()

    def physical(self, address: int, access: int) -> int:
        """The physical address of a supervisor access to `address` (paging or not)."""
        cr0, cr3, cr4 = self._paging.read()
        self.walker.set_mode(cr0, cr3, cr4)
        return self.walker.translate(address, access, False)[0]

    def deliver(self) -> int:
        """Deliver the pending vector; returns the EIP to resume at (the handler)."""
        uc, vector, ram = self._uc, self.pending, self._ram
        assert vector is not None
        self.pending = None
        uc.context_update(self._ctx)
        error = self._error.value
        self._old_exception.value = -1
        uc.context_restore(self._ctx)
        eip, esp, eflags, cs, cr0, cr3, cr4 = self._regs.read()
        if cs & 3:
            raise SystemExit(
                f"bare unicorn: vector {vector} at CPL {cs & 3} (0x{eip:x}): "
                "only CPL 0 is delivered (no stack switch)"
            )
        walker = self.walker
        walker.set_mode(cr0, cr3, cr4)
        uclib.uc_reg_read(uc._uch, R.UC_X86_REG_IDTR, ctypes.byref(self._idtr))
        idt, limit = self._idtr.base, self._idtr.limit
        if vector * 8 + 7 > limit:
            raise SystemExit(f"bare unicorn: vector {vector} beyond the IDT limit at 0x{eip:x}")
        try:
            lo, hi = _GATE.unpack_from(ram, walker.translate(idt + vector * 8, READ, False)[0])
            gate_type = (hi >> 8) & 0x9F  # P and the type
            if gate_type not in (0x8E, 0x8F):
                raise SystemExit(f"bare unicorn: vector {vector}: not a present 32-bit gate")
            frame = (eflags, cs, eip, error) if vector in ERROR_CODE_VECTORS else (eflags, cs, eip)
            for value in frame:  # pushed in this order; each dword walked on its own (cheap)
                esp = (esp - 4) & 0xFFFF_FFFF
                _U32.pack_into(ram, walker.translate(esp, WRITE, False)[0], value)
        except PageFault as pf:
            raise SystemExit(f"bare unicorn: vector {vector} delivery faulted: {pf}") from None
        except struct.error:  # RAM is all the bare runner maps
            raise SystemExit(f"bare unicorn: vector {vector}: IDT or stack outside RAM") from None
        eflags &= ~(_TF | _NT | _RF | _VM | (_IF if gate_type == 0x8E else 0))
        self._frame_regs.write([esp, eflags])
        selector = lo >> 16
        if selector != cs:
            uc.reg_write(R.UC_X86_REG_CS, selector)
        self.delivered += 1
        return int((hi & 0xFFFF_0000) | (lo & 0xFFFF))  # emu_start sets EIP
