"""The PIIX4 PM function's I/O on pc: the PM timer on the guest clock, PM1 status/enable/control
(write-one-to-clear, SLP_EN's power-off), and the APM port's ACPI enable and disable."""

from __future__ import annotations

import pytest

from bt.devices.piix3_pmio import PM_TIMER_HZ, SCI_EN, SLP_EN, TMR_STS, PmIo
from bt.errors import StateError


class _Clock:
    def __init__(self) -> None:
        self.ns = 0

    def now_ns(self) -> int:
        return self.ns


def _pm() -> tuple[PmIo, _Clock, list[int]]:
    clock, offs = _Clock(), []
    return PmIo(clock, lambda: offs.append(1)), clock, offs


def test_timer_counts_at_3_58_mhz_in_24_bits() -> None:
    pm, clock, _ = _pm()
    clock.ns = 1_000_000_000
    assert pm.read(8, 4) == PM_TIMER_HZ
    clock.ns = 5_000_000_000  # 17.9 million ticks: past 2^24
    assert pm.read(8, 4) == (5 * PM_TIMER_HZ) & 0xFFFFFF
    assert pm.read(8, 4) >> 24 == 0


def test_tmr_sts_sets_when_bit_23_changes_and_clears_by_writing_one() -> None:
    pm, clock, _ = _pm()
    half_ns = (1 << 23) * 1_000_000_000 // PM_TIMER_HZ + 1
    clock.ns = half_ns - 1000
    assert pm.read(0, 2) & TMR_STS == 0
    clock.ns = half_ns
    assert pm.read(0, 2) & TMR_STS
    pm.write(0, 2, TMR_STS)
    assert pm.read(0, 2) & TMR_STS == 0
    clock.ns = 2 * half_ns
    assert pm.read(0, 2) & TMR_STS  # the next change, at 2^24 ticks


def test_enable_keeps_what_is_written_and_slp_en_powers_off_for_s5_only() -> None:
    pm, _, offs = _pm()
    pm.write(2, 2, 0xFFFF)
    assert pm.read(2, 2) == 0xFFFF
    pm.write(4, 2, (1 << 10) | SLP_EN)  # SLP_TYP 1 (S3): this machine does not suspend
    assert offs == [] and pm.read(4, 2) == 1 << 10  # SLP_EN reads back clear
    pm.write(4, 2, SLP_EN)  # SLP_TYP 0: QEMU's S5
    assert offs == [1]


def test_apm_acpi_enable_and_disable() -> None:
    pm, _, _ = _pm()
    assert pm.apm.read(0, 1) == 0xB5  # SeaBIOS's last SMI command
    pm.apm.write(0, 1, 0xF1)
    assert pm.read(4, 2) & SCI_EN
    pm.apm.write(0, 1, 0xF0)
    assert not pm.read(4, 2) & SCI_EN
    pm.apm.write(1, 1, 0x5A)
    assert pm.apm.read(1, 1) == 0x5A


def test_state_round_trip() -> None:
    a, clock, _ = _pm()
    a.write(2, 2, 0x0121)
    a.apm.write(0, 1, 0xF1)
    clock.ns = 10**10
    a.write(0, 2, 0xFFFF)
    b, _, _ = _pm()
    b.restore(a.save())
    assert b.save() == a.save()
    with pytest.raises(StateError, match="apm_cnt"):
        b.restore(a.save().__class__(0, 0, 0, 0, 0x100, 0))
