"""LocalApic: the local APIC of the one CPU, as QEMU 7.2 models it (hw/intc/apic.c, apic_common.c).

Registers at offsets of its MMIO range (QEMU maps 1 MiB at 0xFEE00000; the register index is
bits 4-11 of the offset, so the page repeats): ID, version 0x00050014 (0x14 and six LVT
entries), TPR, APR (0), PPR, EOI, LDR, DFR, SVR, ISR/TMR/IRR, ESR, ICR, the six LVT entries
(timer, thermal, performance counters, LINT0, LINT1, error) and the timer (bt/devices/
lapic_timer.py). Where QEMU leaves the SDM, QEMU is followed, since it is the reference:

- Accesses narrower than 32 bits read 0 and are dropped.
- ESR: an access to no register sets its illegal-address bit (0x80); writes to ESR are ignored
  and the bits never clear (the SDM latches errors at each ESR write).
- SVR keeps bits 0-8 (no focus or EOI-suppression bit); clearing its enable bit does not mask
  the LVT entries, and an LVT entry is written whole whether the APIC is enabled or not.
- The error LVT is never delivered; INIT and SIPI reach only other CPUs (there are none), an
  INIT de-assert only copies the arbitration ID; SMI has no effect (no SMM here).
- The 8259's INTR is taken while LINT0 is unmasked or the APIC is globally disabled (IA32_APIC_
  BASE bit 11), whatever LINT0's delivery mode, and before the APIC's own requests (QEMU's
  apic_accept_pic_intr and cpu_get_pic_interrupt). A global disable cannot be undone.
- A write at offset 0 or beyond the first page is an MSI (address bits 12-19 the destination).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bt.devices.lapic_timer import LVT_MASKED, ApicTimer, Clock

VERSION = 0x14
LVT_COUNT = 6
LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR = range(LVT_COUNT)
BASE_BSP, BASE_ENABLE = 1 << 8, 1 << 11
DEFAULT_BASE = 0xFEE00000
SV_ENABLE = 1 << 8
ESR_ILLEGAL_ADDRESS = 1 << 7
DM_FIXED, DM_LOWPRI, DM_SMI, DM_NMI, DM_INIT, DM_SIPI, DM_EXTINT = 0, 1, 2, 4, 5, 6, 7
_NONE = -1


class Pic(Protocol):
    """The 8259 pair's INTR and INTA, as the local APIC's LINT0 sees them."""

    def pending(self) -> bool:
        """Whether INTR is asserted."""
        ...

    def acknowledge(self) -> int:
        """The INTA cycle: the vector."""
        ...


def _highest(bits: int) -> int:
    """The highest set bit of a 256-bit register, or -1."""
    return bits.bit_length() - 1


class LocalApic:
    """One CPU's local APIC: its registers (a BusDevice) and the CPU's interrupt controller
    (`pending`/`acknowledge`, the 8259 behind LINT0)."""

    def __init__(
        self,
        clock: Clock,
        pic: Pic,
        nmi: Callable[[], None],
        eoi_broadcast: Callable[[int], None] = lambda vector: None,
    ) -> None:
        self._pic = pic
        self._nmi = nmi
        self.eoi_broadcast = eoi_broadcast  # to the IOAPIC: a level-triggered vector's EOI
        self.timer = ApicTimer(clock, lambda: self.lvt[LVT_TIMER], self._timer_fired)
        self.base = DEFAULT_BASE | BASE_BSP | BASE_ENABLE
        self.id = 0
        self.arb_id = 0
        self.lvt = [LVT_MASKED] * LVT_COUNT
        self.reset()

    def reset(self) -> None:
        """QEMU's reset of the BSP's APIC (apic_reset_common): LINT0 in ExtINT, the rest masked."""
        self.tpr = 0
        self.svr = 0xFF
        self.log_dest = 0
        self.dest_mode = 0xF
        self.isr = self.tmr = self.irr = 0
        self.lvt = [LVT_MASKED] * LVT_COUNT
        self.lvt[LVT_LINT0] = DM_EXTINT << 8
        self.esr = 0
        self.icr = [0, 0]
        self.timer.reset()

    def seabios_state(self) -> None:
        """What SeaBIOS leaves (measured under QEMU 7.2, guests/apic.asm): software-enabled,
        LINT0 ExtINT and LINT1 NMI (both level), and the ICR of its INIT-SIPI-SIPI to the APs."""
        self.svr |= SV_ENABLE
        self.lvt[LVT_LINT0] = 0x8700
        self.lvt[LVT_LINT1] = 0x8400
        self.icr[0] = 0x000C4610

    # -- IA32_APIC_BASE ---------------------------------------------------------------------------
    def set_base(self, base: int) -> None:
        """IA32_APIC_BASE as WRMSR left it (bt/msrs.py apic_base): with bit 11 clear the APIC
        is globally disabled, and SVR's enable bit clears too (QEMU's apic_set_base)."""
        self.base = base
        if not base & BASE_ENABLE:
            self.svr &= ~SV_ENABLE

    @property
    def enabled(self) -> bool:
        """Globally enabled (IA32_APIC_BASE bit 11)."""
        return bool(self.base & BASE_ENABLE)

    # -- priorities -------------------------------------------------------------------------------
    def ppr(self) -> int:
        """The processor priority: TPR, or the class of the highest vector in service."""
        isr_class = max(_highest(self.isr), 0) >> 4
        return self.tpr if self.tpr >> 4 >= isr_class else isr_class << 4

    def _irq_pending(self) -> int:
        """QEMU's apic_irq_pending: the vector to take, 0 for none, -1 when PPR holds it back."""
        if not self.svr & SV_ENABLE:
            return 0
        irrv = _highest(self.irr)
        if irrv < 0:
            return 0
        ppr = self.ppr()
        if ppr and (irrv & 0xF0) <= (ppr & 0xF0):
            return -1
        return irrv

    def _accepts_pic(self) -> bool:
        return not self.enabled or not self.lvt[LVT_LINT0] & LVT_MASKED

    # -- the CPU side (bt.irq.InterruptController) -----------------------------------------------
    def pending(self) -> bool:
        """Whether INTR is asserted at the CPU: an APIC vector above PPR, or the 8259's INTR
        through LINT0."""
        return self._irq_pending() > 0 or (self._accepts_pic() and self._pic.pending())

    def acknowledge(self) -> int:
        """The vector the CPU takes (QEMU's cpu_get_pic_interrupt)."""
        if self.svr & SV_ENABLE:
            vector = self._irq_pending()
            if vector != 0 and not (self._accepts_pic() and self._pic.pending()):
                if vector < 0:
                    return self.svr & 0xFF  # the spurious vector: ISR untouched
                self.irr &= ~(1 << vector)
                self.isr |= 1 << vector
                return vector
        return self._pic.acknowledge()

    # -- requests ---------------------------------------------------------------------------------
    def set_irq(self, vector: int, level_triggered: bool) -> None:
        """A fixed-mode request for `vector` (QEMU's apic_set_irq): IRR, and TMR for its trigger."""
        bit = 1 << (vector & 0xFF)
        self.irr |= bit
        self.tmr = self.tmr | bit if level_triggered else self.tmr & ~bit

    def _timer_fired(self) -> None:
        self._local_deliver(LVT_TIMER)

    def _local_deliver(self, entry: int) -> None:
        """An LVT entry's event (QEMU's apic_local_deliver)."""
        lvt = self.lvt[entry]
        if lvt & LVT_MASKED:
            return
        mode = (lvt >> 8) & 7
        if mode == DM_NMI:
            self._nmi()
        elif mode == DM_FIXED:
            level = entry in (LVT_LINT0, LVT_LINT1) and bool(lvt & 0x8000)
            self.set_irq(lvt & 0xFF, level)

    def external_nmi(self) -> None:
        """The NMI input (LINT1)."""
        self._local_deliver(LVT_LINT1)

    def matches(self, dest: int, logical: bool) -> bool:
        """Whether a message to `dest` (physical or logical) reaches this APIC."""
        if not logical:
            return dest in (0xFF, self.id)
        if self.dest_mode == 0xF:  # flat
            return bool(dest & self.log_dest)
        if self.dest_mode == 0:  # cluster
            return (dest & 0xF0) == (self.log_dest & 0xF0) and bool(dest & self.log_dest & 0x0F)
        return False

    def deliver_irq(self, dest: int, logical: bool, mode: int, vector: int, level: bool) -> None:
        """A message on the APIC bus (from the IOAPIC or an MSI; QEMU's apic_deliver_irq)."""
        if self.matches(dest, logical):
            self._bus_deliver(mode, vector, level)

    def _bus_deliver(self, mode: int, vector: int, level: bool) -> None:
        if mode in (DM_FIXED, DM_LOWPRI, DM_EXTINT):
            self.set_irq(vector, level)
        elif mode == DM_NMI:
            self._nmi()

    def _send_ipi(self) -> None:
        """A write to ICR low: the IPI it describes (QEMU's apic_deliver), for one CPU."""
        lo, hi = self.icr
        shorthand = (lo >> 18) & 3
        # Shorthands: 1 self, 2 all including self, 3 the others only (none here).
        me = self.matches(hi >> 24, bool(lo & 0x800)) if shorthand == 0 else shorthand in (1, 2)
        mode = (lo >> 8) & 7
        if mode == DM_INIT and lo & 0xC000 == 0x8000:
            self.arb_id = self.id  # INIT level de-assert
        elif me and mode not in (DM_INIT, DM_SIPI):  # INIT, SIPI: only other CPUs (none)
            self._bus_deliver(mode, lo & 0xFF, bool(lo & 0x8000))

    def _msi(self, addr: int, data: int) -> None:
        dest, logical = (addr >> 12) & 0xFF, bool((addr >> 2) & 1)
        self.deliver_irq(dest, logical, (data >> 8) & 7, data & 0xFF, bool((data >> 15) & 1))

    def _eoi(self) -> None:
        isrv = _highest(self.isr)
        if isrv < 0:
            return
        self.isr &= ~(1 << isrv)
        if self.tmr >> isrv & 1:
            self.eoi_broadcast(isrv)

    # -- the registers (bt.bus.BusDevice) --------------------------------------------------------
    def read(self, offset: int, size: int) -> int:
        """A register at `offset` into the APIC's range."""
        if size < 4:
            return 0
        index = (offset >> 4) & 0xFF
        if index == 0x02:
            return self.id << 24
        if index == 0x03:
            return VERSION | (LVT_COUNT - 1) << 16
        if index == 0x08:
            return self.tpr
        if index in (0x09, 0x0B):
            return 0  # APR: no arbitration; EOI: write-only
        if index == 0x0A:
            return self.ppr()
        if index == 0x0D:
            return self.log_dest << 24
        if index == 0x0E:
            return self.dest_mode << 28 | 0x0FFFFFFF
        if index == 0x0F:
            return self.svr
        if 0x10 <= index < 0x28:
            reg = (self.isr, self.tmr, self.irr)[(index - 0x10) >> 3]
            return (reg >> (32 * (index & 7))) & 0xFFFFFFFF
        if index == 0x28:
            return self.esr
        if index in (0x30, 0x31):
            return self.icr[index & 1]
        if 0x32 <= index < 0x32 + LVT_COUNT:
            return self.lvt[index - 0x32]
        if index == 0x38:
            return self.timer.initial
        if index == 0x39:
            return self.timer.current()
        if index == 0x3E:
            return self.timer.divide
        self.esr |= ESR_ILLEGAL_ADDRESS
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """A register write at `offset` into the APIC's range."""
        if size < 4:
            return
        index = (offset >> 4) & 0xFF
        if offset > 0xFFF or index == 0:
            self._msi(DEFAULT_BASE | offset, value)
        elif index == 0x02:
            self.id = value >> 24
        elif index == 0x08:
            self.tpr = value & 0xFF
        elif index == 0x0B:
            self._eoi()
        elif index == 0x0D:
            self.log_dest = value >> 24
        elif index == 0x0E:
            self.dest_mode = value >> 28
        elif index == 0x0F:
            self.svr = value & 0x1FF
        elif index == 0x30:
            self.icr[0] = value
            self._send_ipi()
        elif index == 0x31:
            self.icr[1] = value
        elif 0x32 <= index < 0x32 + LVT_COUNT:
            self.lvt[index - 0x32] = value
            if index - 0x32 == LVT_TIMER:
                self.timer.lvt_written()
        elif index == 0x38:
            self.timer.write_initial(value)
        elif index == 0x3E:
            self.timer.write_divide(value)
        elif index not in _READ_ONLY:
            self.esr |= ESR_ILLEGAL_ADDRESS


# Registers whose writes are dropped without an error: version, APR, PPR, ISR/TMR/IRR, ESR and
# the current count.
_READ_ONLY = frozenset((0x03, 0x09, 0x0A, *range(0x10, 0x29), 0x39))
