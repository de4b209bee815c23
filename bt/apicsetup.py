"""The APICs a machine has, as QEMU 7.2 gives them: a local APIC when the CPU model reports
CPUID.APIC (on `pc` and `isapc` alike), an IOAPIC on `--machine pc` only, each in the state
SeaBIOS leaves for a kernel, at its physical range, following IA32_APIC_BASE."""

from __future__ import annotations

from dataclasses import dataclass

from bt.callouts.context import CalloutContext
from bt.cpumodel import CpuModel
from bt.devices.ioapic import IoApic
from bt.devices.lapic import LocalApic, Pic
from bt.irq import InterruptController
from bt.mmio import MmioDevices
from bt.nmi import NmiLine
from bt.timebase import Clock, TimerDevice

LAPIC_BASE, LAPIC_SIZE = 0xFEE00000, 0x100000  # QEMU maps 1 MiB: the page repeats (and MSIs)
IOAPIC_BASE, IOAPIC_SIZE = 0xFEC00000, 0x1000


@dataclass(frozen=True, slots=True)
class Apics:
    """The machine's local APIC and IOAPIC, either absent, and the CPU's NMI input."""

    lapic: LocalApic | None
    ioapic: IoApic | None
    nmi: NmiLine

    def cpu_side(self, pics: InterruptController) -> InterruptController:
        """What the CPU asks for INTR and INTA: the local APIC (the 8259 behind its LINT0),
        or the 8259 pair itself."""
        return pics if self.lapic is None else self.lapic

    def routes(self, irq: int) -> bool:
        """Whether the IOAPIC's entry for ISA line `irq` is unmasked."""
        return self.ioapic is not None and self.ioapic.unmasked(irq)

    def timers(self) -> tuple[TimerDevice, ...]:
        """The APIC timer, when there is a local APIC."""
        return () if self.lapic is None else (self.lapic.timer,)


def make_apics(
    cpu: CpuModel, machine: str, clock: Clock, pics: Pic, firmware_ran: bool = True
) -> Apics:
    """The APICs of `machine` with `cpu`, wired to the 8259 pair (LINT0, ExtINT entries): as
    SeaBIOS leaves them, or in their reset state for a firmware run from the reset vector."""
    nmi = NmiLine()
    if not cpu.has("apic"):
        return Apics(None, None, nmi)
    lapic = LocalApic(clock, pics, nmi.raise_nmi)
    if firmware_ran:
        lapic.seabios_state()
    if machine != "pc":
        return Apics(lapic, None, nmi)
    ioapic = IoApic(lapic, pics.acknowledge)
    lapic.eoi_broadcast = ioapic.eoi_broadcast
    return Apics(lapic, ioapic, nmi)


def place_apics(apics: Apics, mmio: MmioDevices, ctx: CalloutContext) -> None:
    """Their registers in the physical address space; the local APIC told of WRMSR 0x1B."""
    if apics.lapic is not None:
        mmio.place(LAPIC_BASE, LAPIC_SIZE, apics.lapic)
        ctx.on_apic_base = apics.lapic.set_base
    if apics.ioapic is not None:
        mmio.place(IOAPIC_BASE, IOAPIC_SIZE, apics.ioapic)
