"""The PIIX4 PM function's I/O: the ACPI PM1 event/control registers and PM timer at PMBA (0x600),
and the APM control and status ports (0xB2, 0xB3) that switch ACPI mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from bt.devices.records import PmState
from bt.staterecord import check_record, require_range

PMBA = 0x600  # where SeaBIOS puts the block (00:01.3's register 0x40)
PM_LENGTH = 12  # PM1_STS/EN (0-3), PM1_CNT (4-5), PM_TMR (8-11)
APM_PORT = 0xB2
PM_TIMER_HZ = 3_579_545
TIMER_BITS = 24  # QEMU's FADT leaves TMR_VAL_EXT clear
TMR_STS = 0x0001  # set each time the timer's bit 23 changes
SCI_EN = 0x0001
SLP_EN = 0x2000
ACPI_ENABLE, ACPI_DISABLE = 0xF1, 0xF0
S5_TYPE, S4_TYPE = 0, 2  # QEMU's _S5 and its piix4 default s4_val
APM_CNT_AT_ENTRY = 0xB5  # the last SMI command SeaBIOS wrote (measured under QEMU 7.2)


class Clock(Protocol):
    """Guest time (bt.timebase.Clock, restated: devices import nothing above bt.devices)."""

    def now_ns(self) -> int:
        """Nanoseconds of guest time."""
        ...


class PmIo:
    """hw/acpi/core.c's PM1 block and PM timer as the PIIX4 PM has them on QEMU 7.2.

    PM_TMR counts at 3.579545 MHz from guest time 0, 24 bits wide. PM1_STS: TMR_STS is set
    whenever bit 23 of the count has changed since it was last cleared; writing ones clears
    bits. PM1_EN keeps what is written. PM1_CNT keeps what is written but SLP_EN; SLP_EN with
    SLP_TYP 0 (S5) or 2 (S4) powers the machine off (`on_power_off`), as QEMU's
    acpi_pm1_cnt_write. Not here: the SCI (IRQ 9) from PM1_STS & PM1_EN, S1/S3 suspend.
    """

    def __init__(self, clock: Clock, on_power_off: Callable[[], None]) -> None:
        self._clock = clock
        self._on_power_off = on_power_off
        self.sts = 0
        self.en = 0
        self.cnt = 0
        self.overflow_ticks = 1 << (TIMER_BITS - 1)  # when TMR_STS next sets
        self.apm = Apm(self)

    def ticks(self) -> int:
        """PM timer ticks since guest time 0."""
        return self._clock.now_ns() * PM_TIMER_HZ // 1_000_000_000

    def _status(self) -> int:
        if self.ticks() >= self.overflow_ticks:
            self.sts |= TMR_STS
        return self.sts

    def read(self, offset: int, size: int) -> int:
        """A read at PMBA + `offset` (registers read whole, cut to the access)."""
        if offset < 2:
            value = self._status() >> (8 * offset)
        elif offset < 4:
            value = self.en >> (8 * (offset - 2))
        elif offset < 6:
            value = self.cnt >> (8 * (offset - 4))
        elif offset < 8:
            value = 0
        else:
            value = (self.ticks() & ((1 << TIMER_BITS) - 1)) >> (8 * (offset - 8))
        return value & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        """A write at PMBA + `offset` (16-bit registers, as the guest's OUT writes them)."""
        if offset == 0:
            cleared = self._status() & value
            if cleared & TMR_STS:  # the next change of bit 23 from now
                half = 1 << (TIMER_BITS - 1)
                self.overflow_ticks = (self.ticks() // half + 1) * half
            self.sts &= ~value & 0xFFFF
        elif offset == 2:
            self.en = value & 0xFFFF
        elif offset == 4:
            self.cnt = value & 0xFFFF & ~SLP_EN
            if value & SLP_EN and (value >> 10) & 7 in (S5_TYPE, S4_TYPE):
                self._on_power_off()

    def acpi_mode(self, command: int) -> None:
        """An APM command: ACPI enable and disable set and clear SCI_EN (QEMU's
        apm_ctrl_changed; any other command is an SMI, and this machine has no SMM)."""
        if command == ACPI_ENABLE:
            self.cnt |= SCI_EN
        elif command == ACPI_DISABLE:
            self.cnt &= ~SCI_EN

    def save(self) -> PmState:
        """The PM1 registers, the next TMR_STS time and the APM ports."""
        return PmState(self.sts, self.en, self.cnt, self.overflow_ticks, self.apm.cnt, self.apm.sts)

    def restore(self, state: PmState) -> None:
        """Take the state `save` returned."""
        state = check_record(state, PmState, "pm")
        require_range("pm", state, "sts en cnt", 0, 0xFFFF)
        require_range("pm", state, "apm_cnt apm_sts", 0, 0xFF)
        require_range("pm", state, "overflow_ticks", 0, 1 << 63)
        self.sts, self.en, self.cnt = state.sts, state.en, state.cnt
        self.overflow_ticks = state.overflow_ticks
        self.apm.cnt, self.apm.sts = state.apm_cnt, state.apm_sts


class Apm:
    """APM_CNT (0xB2) and APM_STS (0xB3): byte registers that read back what was written."""

    def __init__(self, pm: PmIo) -> None:
        self._pm = pm
        self.cnt = APM_CNT_AT_ENTRY
        self.sts = 0

    def read(self, offset: int, size: int) -> int:
        """APM_CNT or APM_STS."""
        return self.cnt if offset == 0 else self.sts

    def write(self, offset: int, size: int, value: int) -> None:
        """A command to APM_CNT (ACPI mode), or a byte for APM_STS."""
        if offset == 0:
            self.cnt = value & 0xFF
            self._pm.acpi_mode(self.cnt)
        else:
            self.sts = value & 0xFF
