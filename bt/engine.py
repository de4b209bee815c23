"""Engine: owns the Unicorn CPU, its memory map and hooks; every hook runs inside one guard.

Address spaces. Guest-physical RAM is Unicorn-physical [0, ram). Everything else below 4 GiB is
unassigned MMIO (reads 0 as on the reference, writes dropped). The translation
cache and the monitor's own page live in Unicorn-physical memory above 4 GiB, which no guest
address can name. Unicorn runs in its virtual-TLB mode: the monitor answers every TLB fill, so
a guest data access always gets the guest's view of an address, while instruction fetches
(which only translated code makes) are served only from the translation-cache window
[TC_LINEAR, TC_LINEAR + TC_SIZE). The real GDT is visible only while the monitor itself loads
a segment register (monitor mode), and Unicorn's TLB is flushed after each such load.

Privilege. Translated code runs at real CPL 0: every instruction whose effect depends on the
CPL is translated (the sensitive list), so the real CPL is never observable, and CPL 0 is what
lets guest paging use Unicorn's own page walker with SMAP keeping the cache window out of the
guest's data view (bt/shadowpaging.py). The real IOPL means nothing there and is whatever the
last native POPF left; the real EFLAGS.AC is always clear.
"""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Callable
from dataclasses import dataclass

from unicorn import (
    UC_ARCH_X86,
    UC_ERR_EXCEPTION,
    UC_ERR_READ_UNMAPPED,
    UC_ERR_WRITE_UNMAPPED,
    UC_HOOK_TLB_FILL,
    UC_MODE_32,
    UC_PROT_EXEC,
    UC_PROT_READ,
    UC_PROT_WRITE,
    UC_TLB_VIRTUAL,
    Uc,
    UcError,
)
from unicorn import x86_const as R

from bt.backstop import Backstop
from bt.errors import InternalError
from bt.guestview import DeniedAccess, GuestView
from bt.layout import (
    MAX_RAM,
    MAX_ROM,
    MON_SIZE,
    ROOTS_PHYS,
    TC_LINEAR,
    TC_PHYS,
    TC_SIZE,
)
from bt.nativeio import FAST_VECTORS, NativePortIO
from bt.nativemode import NativeMode
from bt.paging import PageFault
from bt.prevexception import ExceptionMemory, forget_previous_exception
from bt.realsegments import RealSegments
from bt.regfile import RegisterFile
from bt.shadowpaging import DENIED, FALLBACK, RETRY, ShadowPaging
from bt.types import PAGE_SIZE, CodeAddr

_NEVER = TC_LINEAR + TC_SIZE - 32  # emu_start's `until`: an address translated code never uses
# Callouts and exits: the generic vectors and the fast port forms (bt/nativeio.py).
_CALLOUT_VECTORS = frozenset((0x80, 0x81, *FAST_VECTORS))

GPRS = (
    R.UC_X86_REG_EAX,
    R.UC_X86_REG_ECX,
    R.UC_X86_REG_EDX,
    R.UC_X86_REG_EBX,
    R.UC_X86_REG_ESP,
    R.UC_X86_REG_EBP,
    R.UC_X86_REG_ESI,
    R.UC_X86_REG_EDI,
)


@dataclass(frozen=True, slots=True)
class CpuException:
    """A CPU exception raised by translated code, at the real EIP of the faulting instruction."""

    vector: int
    code_addr: CodeAddr


TCG_BUFFER_SIZE = 8 << 20


class Engine:
    """The Unicorn instance, the guest's memory view, and the callout and exception hooks."""

    def __init__(
        self, ram_size: int, rom: bytes = b"", read_only: tuple[int, int] = (0, 0)
    ) -> None:
        if ram_size <= 0 or ram_size % PAGE_SIZE or ram_size > MAX_RAM:
            raise InternalError(f"bad RAM size {ram_size:#x}")
        if len(rom) % PAGE_SIZE or len(rom) > MAX_ROM:
            raise InternalError(f"bad ROM size {len(rom):#x}")
        self.ram_size = ram_size
        uc = Uc(UC_ARCH_X86, UC_MODE_32)
        self.uc = uc
        # Unicorn's first model with SMAP, which guest paging on Unicorn's own walker needs
        # (bt/shadowpaging.py); the guest sees the CPUID of its own model, never this one's.
        uc.ctl_set_cpu_model(R.UC_CPU_X86_BROADWELL)
        # Unicorn's own compiled-code buffer: 1 GiB by default, filled (and resident) before
        # Unicorn recycles it. The translation cache flushes it whenever it flushes itself; this
        # bound holds where it does not (set before Unicorn allocates it: first mem_map).
        uc.ctl_set_tcg_buffer_size(TCG_BUFFER_SIZE)
        # Guest RAM is host memory the monitor owns and Unicorn uses in place: the monitor
        # reads page tables and callout operands through `ram` (a memoryview) without a C
        # call each time. Unicorn never runs code from it (only the translation cache's).
        self._ram_map = mmap.mmap(-1, ram_size)
        self.ram = memoryview(self._ram_map)
        host = ctypes.addressof(ctypes.c_char.from_buffer(self._ram_map))
        uc.mem_map_ptr(0, ram_size, UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC, host)
        self.view = view = GuestView(uc, ram_size)
        view.rom_low = read_only  # RAM that is ROM (a firmware's copy below 1 MiB)
        # Unassigned, around the page that holds the shadow tables' PDPTs, up to the firmware
        # ROM's top copy (`--bios`: the file ends at 4 GiB, read-only through the fill hook).
        rom_base = (1 << 32) - len(rom)
        for lo, hi in ((ram_size, ROOTS_PHYS), (ROOTS_PHYS + PAGE_SIZE, rom_base)):
            if hi > lo:
                uc.mmio_map(lo, hi - lo, view.unassigned_read, None, view.unassigned_write, None)
        if rom:
            uc.mem_map(rom_base, len(rom), UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC)
            uc.mem_write(rom_base, rom)
            view.rom_top = rom_base
        # The cache, the monitor's page and the zero page (bt/layout.py ZERO_PHYS).
        uc.mem_map(
            TC_PHYS, TC_SIZE + MON_SIZE + PAGE_SIZE, UC_PROT_READ | UC_PROT_WRITE | UC_PROT_EXEC
        )
        uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        self.exception: CpuException | None = None
        self.pending_error: BaseException | None = None
        # Guest paging on Unicorn's own walker (the builder attaches the shadow tables).
        self.shadow: ShadowPaging | None = None
        self.mode = NativeMode(uc, view)  # Unicorn's own walker, or the fill hook
        self._fallback: int | None = None  # where code must run under the fill hook
        self._stop_asked = False
        self.native_faults = 0
        # The guest's CR2 and CR3, which the real CR2 and DR3 hold while translated code runs.
        self._cr2 = 0
        self._cr3 = 0
        self._exceptions: ExceptionMemory | None = None  # made at the first native fault
        # Called with the address of an instruction Unicorn will run again after a shadow fill
        # (it already saw it start: the tracer and the instruction counter take it back).
        self.on_retry: list[Callable[[int], None]] = []
        # Delivers the guest's own #PF the shadow tables found, inside the hook (the run loop).
        self.on_guest_fault: Callable[[CodeAddr, PageFault], None] | None = None
        self._fresh_from = TC_LINEAR  # code space above this was never written since a flush
        self.on_callout: Callable[[int, CodeAddr], None] = self._no_callout
        self.eip_reg = RegisterFile(uc, (R.UC_X86_REG_EIP,))
        self._cr2_reg = RegisterFile(uc, (R.UC_X86_REG_CR2,))
        # EIP, the general registers and EFLAGS, read in one batch when a callout arrives.
        self.callout_regs = RegisterFile(uc, (R.UC_X86_REG_EIP, *GPRS, R.UC_X86_REG_EFLAGS))
        self.snapshot: list[int] = []
        # Called when Python is entered after the native port hook answered accesses
        # (`native_io.pending()`), and before translated code runs on (bt/portfast.py).
        self.on_native_io: Callable[[], None] | None = None
        self.on_resume: Callable[[int], None] | None = None  # the callout's vector or -1
        self.on_fault: Callable[[int], None] | None = None  # an instruction at this address faulted
        uc.hook_add(UC_HOOK_TLB_FILL, self._guard_tlb)
        # The one interrupt hook: host code for the fast port forms, then _guard_intr.
        self.native_io = NativePortIO(uc, self._guard_intr)
        # First block hook, so that a stop it asks for skips the later ones (tracer, counting).
        self.backstop = Backstop(uc, TC_LINEAR, _NEVER - 1)
        self.segments = RealSegments(uc, view, self._monitor_page)

    def _guard_tlb(self, uc: Uc, vaddr: int, access: int, entry: object, _ud: object) -> bool:
        try:
            return self.view.fill(vaddr, access, entry)
        except BaseException as exc:  # relayed after emu_start returns
            self.pending_error = exc
            uc.emu_stop()
            return False

    # -- callouts and exceptions ---
    def _no_callout(self, vector: int, resume: CodeAddr) -> None:
        raise InternalError("callout with no run loop attached")

    def _guard_intr(self, uc: Uc, vector: int, _ud: object) -> None:
        try:
            if self.segments.real:
                self.segments.sync()  # the guest's own segment loads, before the monitor looks
            if self.native_io.pending() and self.on_native_io is not None:
                self.on_native_io()  # before anything Python does can be observed
            if vector in _CALLOUT_VECTORS:
                self.snapshot = self.callout_regs.read()
                self.on_callout(vector, CodeAddr(self.snapshot[0]))
                if self.on_resume is not None:
                    self.on_resume(vector)
                return
            if vector == 14 and self.mode.on:
                self._native_fault()
                return
            eip = self.eip_reg.read()[0]
            self.exception = CpuException(vector, CodeAddr(eip))
            uc.emu_stop()
        except BaseException as exc:
            self.pending_error = exc
            uc.emu_stop()

    def _native_fault(self) -> None:
        """Unicorn's walker found no usable shadow entry (bt/shadowpaging.py)."""
        assert self.shadow is not None
        self.native_faults += 1
        uc = self.uc
        if self._exceptions is None:
            self._exceptions = ExceptionMemory(uc)
        error = self._exceptions.take()  # its W bit: a read or a write; nothing to remember
        cr2 = self._cr2_reg
        verdict = self.shadow.fault(cr2.read()[0], error)
        cr2.write([self._cr2])  # Unicorn's #PF set it: the guest's again
        eip = self.eip_reg.read()[0]
        if isinstance(verdict, PageFault):
            if self.on_fault is not None:
                self.on_fault(eip)
            if self.on_guest_fault is not None:
                self.on_guest_fault(CodeAddr(eip), verdict)  # delivered here: CR2, code exact
                return
            self.view.page_fault = verdict
            self.exception = CpuException(14, CodeAddr(eip))
        elif verdict == RETRY:
            for retry in self.on_retry:
                retry(eip)
            return  # Unicorn runs the instruction again, through the mended entry
        if verdict == FALLBACK:
            self._fallback = eip
        elif verdict == DENIED:
            if self.on_fault is not None:
                self.on_fault(eip)
            self.view.denied = DeniedAccess("write", self.shadow.denied_page, CodeAddr(eip))
        uc.emu_stop()

    def sync_control(self, cr2: int, cr3: int) -> None:
        """The guest's CR2 in the real one, its CR3 in the real DR3 (translated MOV from CR2
        and CR3 at CPL 0 read them: translator/inline.py)."""
        if cr2 != self._cr2:
            self._cr2 = cr2
            self.uc.reg_write(R.UC_X86_REG_CR2, cr2)
        if cr3 != self._cr3:
            self._cr3 = cr3
            self.uc.reg_write(R.UC_X86_REG_DR3, cr3)

    # -- guest paging on Unicorn's walker ---
    def _run_fallback(self) -> None:
        """Run the Unicorn block from the instruction the shadow could not serve under the
        fill hook, then go on natively with what is left of the backstop's budget."""
        eip, self._fallback = self._fallback, None
        assert eip is not None
        left = self.backstop.left()
        if left <= 0:
            return  # the budget ran out there: the run loop comes back to it
        for retry in self.on_retry:
            retry(eip)
        mode = self.mode
        cr3 = mode.real_cr3
        mode.leave()
        try:
            count = self.backstop.arm(2)  # the block starting at `eip`, stopped at the next
            self.uc.emu_start(eip, _NEVER, count=count)
        finally:
            mode.enter(cr3)
        if self.backstop.expired() and self._no_stop_reason():
            count = self.backstop.arm(max(left - 1, 1))
            self.uc.emu_start(self.eip_reg.read()[0], _NEVER, count=count)

    def _no_stop_reason(self) -> bool:
        view = self.view
        return (
            self.exception is None
            and self.pending_error is None
            and view.denied is None
            and view.page_fault is None
            and not self.stop_requested()
        )

    # -- code region ---
    def write_code(self, addr: int, data: bytes) -> None:
        """Write translated code at cache address `addr` and drop Unicorn's stale compilations."""
        self.uc.mem_write(TC_PHYS + (addr - TC_LINEAR), data)
        end = addr + len(data)
        if addr < self._fresh_from:
            self.uc.ctl_remove_cache(addr, end)
        # Nothing is compiled above the mark (never written since the last flush). A write
        # across it moves it too: patches in such a block once kept a stale copy running.
        self._fresh_from = max(self._fresh_from, end)

    def code_flushed(self, start: int) -> None:
        """Every block was retired and code space from `start` will be reused: drop all of
        Unicorn's compiled code at once."""
        self.uc.ctl_flush_tb()
        self._fresh_from = start

    def read_code(self, addr: int, size: int) -> bytes:
        """Bytes of translated code at cache address `addr`."""
        return bytes(self.uc.mem_read(TC_PHYS + (addr - TC_LINEAR), size))

    # -- the monitor's real segments (bt/realsegments.py) ---
    def _monitor_page(self, visible: bool) -> None:
        if self.shadow is not None and (self.mode.on or not visible):
            self.shadow.monitor_page(visible)

    def start_cpu(self, esp: int) -> None:
        """Put the real CPU on the monitor's flat segments at CPL 0 with the guest's ESP."""
        self.segments.start(esp)

    def load_shadow(
        self, name: str, base: int, limit: int, flags: int, null: bool, selector: int = -1
    ) -> None:
        """Make the real segment register `name` address what the guest's does."""
        self.segments.load(name, base, limit, flags, null, selector)

    # -- running ---
    def run(self, code_addr: int, budget: int) -> None:
        """Execute translated code from `code_addr` until a hook stops the CPU or `budget`
        blocks have run (the backstop). Never with emu_start's timeout: see bt/backstop.py."""
        self.exception = None
        self._stop_asked = False
        view = self.view
        view.denied = None
        view.page_fault = None
        count = self.backstop.arm(budget)
        if self.on_resume is not None:
            self.on_resume(-1)
        try:
            try:
                self.uc.emu_start(code_addr, _NEVER, count=count)
                while self._fallback is not None:
                    self._run_fallback()
            finally:
                if self.segments.real:
                    self.segments.sync()
                if self.native_io.pending() and self.on_native_io is not None:
                    self.on_native_io()
        except UcError as exc:
            if self.pending_error is not None:
                err, self.pending_error = self.pending_error, None
                raise err from None
            if self.on_fault is not None:
                self.on_fault(self.uc.reg_read(R.UC_X86_REG_EIP))
            if exc.errno == UC_ERR_EXCEPTION and view.denied is not None:
                eip = self.uc.reg_read(R.UC_X86_REG_EIP)
                view.denied = DeniedAccess(view.denied.kind, view.denied.page, CodeAddr(eip))
                return
            if view.page_fault is not None and exc.errno in _UNMAPPED_ERRORS:
                eip = self.uc.reg_read(R.UC_X86_REG_EIP)
                self.exception = CpuException(14, CodeAddr(eip))
                view.flush_tlb()  # the entries aimed at the hole go, and with them the hook
                return
            eip = self.uc.reg_read(R.UC_X86_REG_EIP)
            self.exception = CpuException(_ERRNO_VECTOR.get(exc.errno, -1), CodeAddr(eip))
            self.exception_error = exc
            return
        if self.pending_error is not None:
            err, self.pending_error = self.pending_error, None
            raise err

    def forget_exception(self) -> None:
        """Clear Unicorn's memory of the CPU exception just taken, which would otherwise turn
        the next one into a double fault (unicorn issue #1883; about 15 us)."""
        forget_previous_exception(self.uc)

    def set_eip(self, code_addr: int) -> None:
        """Point the real EIP at translated code (from inside a hook: execution goes on there)."""
        self.eip_reg.write([code_addr])

    def stop(self) -> None:
        """Ask the CPU to stop after the current instruction (from inside a hook)."""
        self._stop_asked = True
        self.uc.emu_stop()

    def stop_requested(self) -> bool:
        """Whether a hook asked the CPU to stop during this run."""
        return self._stop_asked

    # -- registers ---
    def read_gprs(self) -> list[int]:
        """EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI."""
        return list(self.uc.reg_read_batch(GPRS))

    def read_reg(self, reg: int) -> int:
        """One real register."""
        return int(self.uc.reg_read(reg))

    def write_reg(self, reg: int, value: int) -> None:
        """Set one real register."""
        self.uc.reg_write(reg, value)


_ERRNO_VECTOR = {10: 6}  # UC_ERR_INSN_INVALID -> #UD
_UNMAPPED_ERRORS = (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED)
