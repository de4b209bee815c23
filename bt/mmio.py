"""MmioDevices: devices at guest-physical ranges of the unassigned space, which translated code
reaches as Unicorn MMIO (the local APIC and the IOAPIC), with or without guest paging.

Guest-physical [RAM, 4 GiB) is Unicorn-physical MMIO that reads as unassigned (bt/engine.py);
a device's range is cut out of it and mapped to the device's callbacks, so the fill hook (paging
off: linear = physical) and the shadow tables (guest paging: bt/shadowtables.py maps a non-RAM
guest page to the same Unicorn-physical page) both lead there unchanged.

A callback runs in the middle of a translated block, inside the accessing instruction, where
the monitor cannot deliver an interrupt. A write after which an interrupt is deliverable (an
EOI unmasking a pending one, a self-IPI, TPR lowered, an IOAPIC entry unmasked, a timer armed
with a short count)
stops the CPU from the callback. Unicorn then stands at the start of the writing instruction
(its host-level restart point: the write is done, the rest of the instruction is not), so the
write must not happen twice: it is armed to be dropped once (`drop`), and bt/mmiostop.py runs
the instruction again alone, its repeated write dropped, and delivers the interrupt right after
it, as a PC does. (DESIGN fact 12 is why the other stops stay away from mid-block exits.) The
replayed accesses do not move time again. A read stops nothing; when the clock passed the next
timer event it trips the backstop, for the next block start. Each access counts as a monitor
entry: virtual time moves by the step a callout adds, so a guest polling the APIC timer sees
it count.
"""

from __future__ import annotations

from unicorn import Uc
from unicorn import x86_const as R

from bt.bus import BusDevice
from bt.engine import Engine
from bt.irq import IrqSource
from bt.timebase import VirtualClock

IF = 1 << 9


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
        self.drop: tuple[BusDevice, int, int, int] | None = None  # a write not to repeat
        self.stopped = False  # a write stopped the CPU at its instruction (bt/mmiostop.py)

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
                value &= (1 << (8 * size)) - 1
                if self.drop is not None:
                    # The replay repeats the write that stopped the CPU; any other write means
                    # the replay went elsewhere, and nothing may be dropped later.
                    repeat, self.drop = self.drop == (device, offset, size, value), None
                    if repeat:
                        return
                self._entered()
                device.write(offset, size, value)
                self._irq.devices_changed()
                if self._deliverable():
                    self.drop = (device, offset, size, value)
                    self.stopped = True
                    uc.emu_stop()
            except BaseException as exc:
                eng.pending_error = exc
                uc.emu_stop()

        uc = eng.uc
        uc.mem_unmap(base, length)
        uc.mmio_map(base, length, read, None, write, None)
        self._callbacks += [read, write]

    def _deliverable(self) -> bool:
        """Whether the monitor must look now: an NMI or INTR asserted (with IF clear too: the
        translations running were made while nothing was pending, and their STI and POPF must
        now tell the monitor, bt/keypolicy.py), or, with IF set, a timer event due within a
        monitor entry's step (a timer armed with a short count: virtual time moves to it, as
        it would at the next entry)."""
        irq = self._irq
        if irq.nmi.ready() or irq.controller.pending():
            return True
        deadline = irq.next_deadline()
        if deadline is None or deadline > irq.clock.now_ns() + self._step:
            return False
        if not self._engine.read_reg(R.UC_X86_REG_EFLAGS) & IF:
            return False  # the monitor's next entry finds it due
        if self._clock is not None:
            self._clock.advance_to(deadline)
        return True

    def _entered(self) -> None:
        if self.drop is not None:
            return  # the replay of the instruction that stopped the CPU: its accesses counted
        self._engine.view.mmio_accesses += 1
        if self._clock is not None:
            self._clock.advance(self._step)
