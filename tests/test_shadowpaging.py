"""The shadow page tables (bt/shadowpaging.py) against a guest's 32-bit tables, entry by entry."""

from __future__ import annotations

import pytest
from unicorn import UC_ARCH_X86, UC_MODE_32, Uc

from bt import shadowtables
from bt.paging import CR0_WP, CR4_PSE, PageFault, PageWalker
from bt.shadowpaging import FALLBACK, RETRY, ShadowPaging
from bt.shadowtables import ADDR, MAX_ROOTS, RW, P
from tests.pagetables import PD, PG, PS, PT, A, D, Ram
from tests.pagetables import RW as GRW
from tests.pagetables import P as GP

FRAME = 0x8000  # guest frames from here
DATA = 0x400000  # linear: PDE 1 -> PT (4 KiB pages)


def _setup() -> tuple[Ram, PageWalker, ShadowPaging]:
    ram = Ram(0x20000)
    ram.put32(PD + 4, PT | GP | GRW)
    for i in range(4):
        ram.put32(PT + 4 * i, (FRAME + 0x1000 * i) | GP | GRW)
    shadow = ShadowPaging(Uc(UC_ARCH_X86, UC_MODE_32), memoryview(ram.mem), len(ram.mem), ram)
    walker = PageWalker(shadow)
    walker.set_mode(PG | CR0_WP, PD, 0)  # supervisor writes honour R/W
    shadow.walker = walker
    shadow.set_mode(walker.mode(), PD, False, walker.pdptes)
    return ram, walker, shadow


def _leaf(shadow: ShadowPaging, linear: int) -> int:
    assert shadow.current is not None
    return shadow.shadow.leaf(shadow.current, linear)[1]


def test_a_read_maps_read_only_until_the_first_write_sets_dirty() -> None:
    ram, _w, shadow = _setup()
    assert shadow.fault(DATA + 0x10, 0) == RETRY
    e = _leaf(shadow, DATA)
    assert e & P and not e & RW and e & ADDR == FRAME
    assert ram.read_u32(PT) & (A | D) == A  # the walk set A, not D
    # The write faults on the read-only entry (P|W): it sets D and maps RW.
    assert shadow.fault(DATA + 0x10, 3) == RETRY
    assert _leaf(shadow, DATA) & RW
    assert ram.read_u32(PT) & (A | D) == A | D


def test_a_refused_access_is_the_guests_fault_or_left_to_the_fill_hook() -> None:
    ram, _w, shadow = _setup()
    ram.put32(PT + 4, 0)  # DATA + 0x1000 not present
    fault = shadow.fault(DATA + 0x1004, 2)  # a write missing in the shadow (W)
    assert isinstance(fault, PageFault)
    assert (fault.linear, fault.error_code) == (DATA + 0x1004, 2)  # W, not present
    fault = shadow.fault(DATA + 0x1004, 0)
    assert isinstance(fault, PageFault) and fault.error_code == 0  # a read: no W
    # A write to a read-only page: the guest's #PF, and no A bit (the CPU sets none there).
    ram.put32(PT + 8, (FRAME + 0x2000) | GP)
    fault = shadow.fault(DATA + 0x2000, 2)
    assert isinstance(fault, PageFault) and fault.error_code == 3
    assert not ram.read_u32(PT + 8) & A
    # The monitor's window is never the guest's through the shadow tables.
    assert shadow.fault(0xE0000000, 0) == FALLBACK


def test_guest_tables_are_tracked_and_a_change_reaches_the_shadow_at_a_sync() -> None:
    ram, _w, shadow = _setup()
    # The guest's PT page, mapped at linear DATA + 0x3000 by an entry of its own.
    ram.put32(PT + 12, PT | GP | GRW | A | D)
    assert shadow.fault(DATA, 0) == RETRY  # PT now followed
    assert PT in shadow.tables
    assert shadow.fault(DATA + 0x3000, 2) == RETRY  # the first write: unsynced
    assert shadow.tables[PT].unsynced and _leaf(shadow, DATA + 0x3000) & RW
    ram.put32(PT, (FRAME + 0x3000) | GP | GRW)  # remap DATA, as translated code would
    assert _leaf(shadow, DATA) & P  # stale until the guest's TLB flush point...
    # This test wrote RAM behind Unicorn's back: no shadow D bit says so, and a sync takes the
    # table as unwritten. A write through GuestMemory (the monitor's) is marked:
    shadow.sync()
    assert _leaf(shadow, DATA) & P
    shadow.monitor_wrote(PT)
    shadow.sync()
    assert not _leaf(shadow, DATA) & P  # ...then gone, and refilled from the new entry
    assert shadow.fault(DATA, 0) == RETRY
    assert _leaf(shadow, DATA) & ADDR == FRAME + 0x3000


def test_an_untouched_unsynced_table_is_protected_again() -> None:
    ram, _w, shadow = _setup()
    ram.put32(PT + 12, PT | GP | GRW | A | D)
    shadow.fault(DATA, 0)
    shadow.fault(DATA + 0x3000, 2)
    assert shadow.tables[PT].unsynced
    shadow.sync()  # not written since: tracked (read-only) again
    assert not shadow.tables[PT].unsynced
    assert not _leaf(shadow, DATA + 0x3000) & RW


def test_code_pages_stay_read_only_and_a_write_is_reported() -> None:
    _ram, _w, shadow = _setup()
    shadow.protected.add(FRAME + 0x1000)
    assert shadow.fault(DATA + 0x1000, 0) == RETRY
    assert not _leaf(shadow, DATA + 0x1000) & RW
    assert shadow.fault(DATA + 0x1000, 2) == 2  # DENIED
    assert shadow.denied_page == FRAME + 0x1000


def test_address_spaces_are_kept_and_bounded() -> None:
    ram, w, shadow = _setup()
    shadow.fault(DATA, 0)
    first = shadow.current
    shadow.activate(PD, True, w.pdptes)  # the same space at CPL 3: a root of its own
    assert shadow.current is not first and _leaf(shadow, DATA) == 0
    shadow.activate(PD, False, w.pdptes)  # back: its entries are still there
    assert shadow.current is first and _leaf(shadow, DATA) & P
    resets = shadow.stats_resets
    for n in range(MAX_ROOTS + 5):  # more address spaces than the roots page holds
        shadow.activate(0x100000 + 0x1000 * n, False, w.pdptes)
    assert shadow.stats_resets > resets and len(shadow.shadow.roots) <= MAX_ROOTS
    shadow.activate(PD, False, w.pdptes)  # rebuilt empty after the reset
    assert _leaf(shadow, DATA) == 0


def test_out_of_table_pages_starts_over_in_the_same_pdpt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shadowtables, "ARENA_PAGES", 300)  # a small arena, soon full
    ram, w, shadow = _setup()
    for i in range(1024):  # 4 MiB pages everywhere: a shadow PT for every 2 MiB touched
        ram.put32(PD + 4 * i, (i << 22) | PS | GP | GRW | A | D)
    w.set_mode(PG | CR0_WP, PD, CR4_PSE)
    shadow.set_mode(w.mode(), PD | 8, False, w.pdptes)  # another root first: slot 0
    shadow.set_mode(w.mode(), PD, False, w.pdptes)
    assert shadow.current is not None
    slot = shadow.current.slot
    assert slot != 0
    resets = shadow.stats_resets
    for region in range(0x600):
        assert shadow.fault(region << 21, 0) == RETRY
    assert shadow.stats_resets > resets  # the arena ran out on the way
    assert shadow.current.slot == slot  # and Unicorn's CR3 still names this root
    assert _leaf(shadow, 0x5FF << 21) & P


def test_a_large_page_maps_its_whole_region_at_once() -> None:
    ram, w, shadow = _setup()
    ram.put32(PD + 8, (2 << 22) | PS | GP | GRW | A | D)  # 8 MiB: a 4 MiB page, A and D set
    w.set_mode(PG | CR0_WP, PD, CR4_PSE)
    shadow.set_mode(w.mode(), PD, False, w.pdptes)
    shadow.protected.add((2 << 22) + 0x5000)  # a page holding translated code
    assert shadow.fault((2 << 22) + 0x3004, 0) == RETRY
    assert shadow.stats_fills == 1
    for page in (0, 0x3000, 0x1FF000):  # the 2 MiB region, mapped by that one fill
        e = _leaf(shadow, (2 << 22) + page)
        assert e & P and e & RW and e & ADDR == (2 << 22) + page
    assert not _leaf(shadow, (2 << 22) + 0x5000) & RW
    assert _leaf(shadow, (2 << 22) + 0x200000) == 0  # the other half: its own first access
    shadow.write_protect((2 << 22) + 0x7000)  # later code there: read-only from then on
    assert not _leaf(shadow, (2 << 22) + 0x7000) & RW
    # With D clear the region is read-only, so the first write faults and sets D.
    ram.put32(PD + 12, (3 << 22) | PS | GP | GRW)
    assert shadow.fault((3 << 22) + 0x10, 0) == RETRY
    assert not _leaf(shadow, (3 << 22) + 0x1000) & RW
    assert ram.read_u32(PD + 12) & (A | D) == A
