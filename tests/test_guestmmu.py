"""GuestMmu: when the real TLB is flushed (mode changes, privilege changes) and the monitor's
code TLB, over the real walker and page tables in a bytearray."""

from __future__ import annotations

import pytest
from pagetables import PD, PG, PT, RW, US, P, Ram

from bt.guestmmu import GuestMmu
from bt.paging import READ, WRITE, PageFault, PageWalker
from bt.vcpu import SegmentCache, Vcpu

CODE0 = SegmentCache(0x08, 0, 0xFFFFFFFF, 0xC09B00)
CODE3 = SegmentCache(0x1B, 0, 0xFFFFFFFF, 0xC0FB00)


def _mmu(ram: Ram) -> tuple[GuestMmu, Vcpu, list[int]]:
    vcpu = Vcpu(segs={"cs": CODE0}, eflags_sys=0x2, cr0=PG, cr3=PD)
    mmu = GuestMmu(PageWalker(ram), vcpu)
    flushes: list[int] = []
    mmu.flush_tlb = lambda: flushes.append(1)
    mmu.set_mode()
    return mmu, vcpu, flushes


def _map(ram: Ram, linear: int, pte: int) -> None:
    ram.put32(PD + (linear >> 22) * 4, PT | P | RW | US)
    ram.put32(PT + ((linear >> 12) & 0x3FF) * 4, pte)


def test_mode_changes_flush() -> None:
    mmu, vcpu, flushes = _mmu(Ram())
    assert mmu.enabled and flushes == [1]
    vcpu.cr3 = 0x3000
    mmu.set_mode()
    assert len(flushes) == 2 and mmu.walker.enabled


def test_going_to_user_mode_flushes_only_after_supervisor_fills() -> None:
    ram = Ram()
    _map(ram, 0x5000, 0x7000 | P | RW | US)
    mmu, vcpu, flushes = _mmu(ram)
    vcpu.segs["cs"] = CODE3
    mmu.sync_privilege()
    assert len(flushes) == 1  # nothing was filled for the supervisor since the flush
    mmu.translate(0x5000, READ)  # a user fill
    vcpu.segs["cs"] = CODE0
    mmu.sync_privilege()
    assert len(flushes) == 1  # a user's entries serve the supervisor as they are
    mmu.translate(0x5000, WRITE)  # a supervisor fill
    vcpu.segs["cs"] = CODE3
    mmu.sync_privilege()
    assert len(flushes) == 2  # it must not serve the user


def test_user_access_to_a_supervisor_page_faults_but_system_access_does_not() -> None:
    ram = Ram()
    _map(ram, 0x5000, 0x7000 | P | RW)  # supervisor only
    mmu, vcpu, _ = _mmu(ram)
    vcpu.segs["cs"] = CODE3
    with pytest.raises(PageFault) as got:
        mmu.translate(0x5123, READ)
    assert got.value.error_code == 0x5  # present, read, user
    assert mmu.translate(0x5123, READ, system=True)[0] == 0x7123  # a descriptor-table read


def test_the_code_tlb_keeps_a_translation_until_a_flush() -> None:
    ram = Ram()
    _map(ram, 0x5000, 0x7000 | P | RW | US)
    mmu, _, _ = _mmu(ram)
    assert mmu.code_page(0x5010) == 0x7000
    _map(ram, 0x5000, 0x8000 | P | RW | US)  # remapped without a flush: as a CPU's ITLB
    assert mmu.code_page(0x5010) == 0x7000
    mmu.flush()  # INVLPG / MOV CR3
    assert mmu.code_page(0x5010) == 0x8000
    _map(ram, 0x5000, 0)
    mmu.flush()
    with pytest.raises(PageFault) as got:
        mmu.code_page(0x5010)
    assert got.value.linear == 0x5010
