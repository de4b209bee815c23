"""MmioDevices: devices at guest-physical ranges of the unassigned space, which translated code
reaches as Unicorn MMIO (the local APIC and the IOAPIC), with or without guest paging.

Guest-physical [RAM, 4 GiB) is Unicorn-physical MMIO that reads as unassigned (bt/engine.py);
a device's range is cut out of it and mapped to the device's callbacks, so the fill hook (paging
off: linear = physical) and the shadow tables (guest paging: bt/shadowtables.py maps a non-RAM
guest page to the same Unicorn-physical page) both lead there unchanged.

A callback runs in the middle of a translated block, inside the accessing instruction. The
monitor cannot deliver an interrupt there, and `emu_stop` from there would make Unicorn restart
the block, running its first instructions twice (DESIGN fact 12). So a write, which may make an
interrupt deliverable (EOI, TPR, SVR, an IPI, an IOAPIC entry unmasked, a timer armed), trips
the backstop instead: the CPU stops at the next block start, on its own thread, and BudgetStop
delivers what is due at that instruction boundary (bt/budget.py). That is where QEMU's TCG takes
it too: at the start of its next translation block. A read trips it only when the clock passed
the next timer event. Each access counts as a monitor entry: virtual time moves by the step a
callout adds, so a guest polling the APIC timer sees it count.
"""

from __future__ import annotations

from unicorn import Uc

from bt.bus import BusDevice
from bt.engine import Engine
from bt.irq import IrqSource
from bt.timebase import VirtualClock


class MmioDevices:
    """Places devices in the unassigned physical space and relays their accesses."""

    def __init__(
        self, engine: Engine, clock: VirtualClock | None, step_ns: int, irq: IrqSource
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._step = step_ns
        self._irq = irq
        self._callbacks: list[object] = []  # Unicorn keeps no reference of its own

    def place(self, base: int, length: int, device: BusDevice) -> None:
        """Map `device` at guest-physical [base, base + length), inside the unassigned space
        (before the guest runs: code compiled earlier would keep the old mapping)."""
        eng = self._engine

        def read(uc: Uc, offset: int, size: int, _ud: object) -> int:
            try:
                self._entered()
                value = device.read(offset, size) & ((1 << (8 * size)) - 1)
                deadline = self._irq.next_deadline()
                if deadline is not None and self._irq.clock.now_ns() >= deadline:
                    eng.backstop.trip()  # a timer event fell due: deliver it soon
                return value
            except BaseException as exc:  # relayed after emu_start returns
                eng.pending_error = exc
                uc.emu_stop()
                return 0

        def write(uc: Uc, offset: int, size: int, value: int, _ud: object) -> None:
            try:
                self._entered()
                device.write(offset, size, value & ((1 << (8 * size)) - 1))
                self._irq.devices_changed()
                eng.backstop.trip()
            except BaseException as exc:
                eng.pending_error = exc
                uc.emu_stop()

        uc = eng.uc
        uc.mem_unmap(base, length)
        uc.mmio_map(base, length, read, None, write, None)
        self._callbacks += [read, write]

    def _entered(self) -> None:
        self._engine.view.mmio_accesses += 1
        if self._clock is not None:
            self._clock.advance(self._step)
