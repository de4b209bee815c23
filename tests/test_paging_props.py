"""Properties of the walker over random entries: translate, probe, A/D and error codes agree.

Random flag bits (reserved ones included) in a PDE and a PTE under 32-bit and PAE paging,
every access kind and privilege, CR0.WP, CR4.PSE and NXE; 300 derandomized examples each.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from pagetables import NX, PAE_PD, PAE_PT, PD, PDPT, PG, PS, PT, A, D, P, Ram

from bt.paging import (
    CR0_WP,
    CR4_PAE,
    CR4_PSE,
    EFER_NXE,
    FETCH,
    PF_I,
    PF_P,
    PF_RSVD,
    PF_U,
    PF_W,
    WRITE,
    PageFault,
    PageWalker,
)

LINEAR = 0x0000_3ABC  # PDE 0, PTE 3 in both formats
HIGH = st.sampled_from([0] * 9 + [1 << 32, 1 << 35, 1 << 52, 1 << 62, NX, NX, NX | 1 << 40])
MID = st.sampled_from([0] * 6 + [1 << 13, 1 << 20])  # reserved in a 2 MiB PDE
MODE = st.tuples(st.booleans(), st.booleans(), st.booleans())  # WP, PSE, NXE
DRAW = st.tuples(st.integers(0, 2), st.booleans())  # access, user


def _walk_and_check(w: PageWalker, ram: Ram, access: int, user: bool, pde_at: int,
                    pte_at: int, large: bool, nxe: bool) -> None:  # fmt: skip
    before = bytes(ram.mem)
    pde0, pte0 = ram.read_u32(pde_at), ram.read_u32(pte_at)
    leaf_at = pde_at if large else pte_at
    leaf0 = ram.read_u32(leaf_at)
    expected_probe = w.probe(LINEAR)
    assert bytes(ram.mem) == before  # probe writes nothing
    try:
        phys, write_ok = w.translate(LINEAR, access, user)
    except PageFault as exc:
        code = exc.error_code
        assert exc.linear == LINEAR
        assert code & ~(PF_P | PF_W | PF_U | PF_RSVD | PF_I) == 0
        assert bool(code & PF_W) == (access == WRITE)
        assert bool(code & PF_U) == user
        assert bool(code & PF_I) == (access == FETCH and nxe)
        assert not code & PF_RSVD or code & PF_P  # RSVD comes with P
        if code & PF_RSVD or not code & PF_P:  # no translation at all
            assert expected_probe is None
        else:  # a protection fault: the translation exists
            assert expected_probe is not None
        assert ram.read_u32(leaf_at) == leaf0  # the leaf gets nothing on a fault
        if not large:
            assert ram.read_u32(pde_at) in (pde0, pde0 | A)
        return
    assert phys == expected_probe
    assert ram.read_u32(leaf_at) == leaf0 | A | (D if access == WRITE else 0)
    if not large:
        assert ram.read_u32(pde_at) == pde0 | A
        assert ram.read_u32(pte_at) & A
    else:
        assert ram.read_u32(pte_at) == pte0
    assert not write_ok or ram.read_u32(leaf_at) & D  # write_ok only on a dirty leaf
    if access == WRITE:
        assert write_ok
    ram.writes.clear()
    assert w.translate(LINEAR, access, user) == (phys, write_ok)
    assert ram.writes == []  # a second walk finds A/D set and writes nothing


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.integers(0, 0xFFFF_FFFF), st.integers(0, 0xFFFF_FFFF), MODE, DRAW)
def test_32bit_random_entries(
    pde: int, pte: int, mode: tuple[bool, bool, bool], draw: tuple[int, bool]
) -> None:
    wp, pse, _ = mode
    access, user = draw
    pde |= P if pde & 0x100 else 0  # mostly present
    pte |= P if pte & 0x200 else 0
    if not (pde & PS and pse):
        pde = (pde & 0xFFF) | PT
    ram = Ram()
    ram.put32(PD, pde)
    ram.put32(PT + 3 * 4, pte)
    w = PageWalker(ram)
    w.set_mode(PG | (CR0_WP if wp else 0), PD, CR4_PSE if pse else 0)
    _walk_and_check(w, ram, access, user, PD, PT + 12, bool(pde & PS and pse), nxe=False)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.integers(0, 0xFFF), HIGH, MID, st.integers(0, 0xFFF), HIGH, MODE, DRAW)
def test_pae_random_entries(
    pde_lo: int,
    pde_hi: int,
    pde_mid: int,
    pte_lo: int,
    pte_hi: int,
    mode: tuple[bool, bool, bool],
    draw: tuple[int, bool],
) -> None:
    wp, _, nxe = mode
    access, user = draw
    pde = pde_hi | (PAE_PT if not pde_lo & PS else 0x0040_0000 | pde_mid) | pde_lo | P
    pte = pte_hi | 0x0009_0000 | pte_lo | (P if pte_lo & 0x200 else 0)
    ram = Ram()
    ram.put64(PDPT, PAE_PD | P)
    ram.put64(PAE_PD, pde)
    ram.put64(PAE_PT + 3 * 8, pte)
    w = PageWalker(ram, nx=True)
    w.set_mode(PG | (CR0_WP if wp else 0), PDPT, CR4_PAE, EFER_NXE if nxe else 0)
    _walk_and_check(w, ram, access, user, PAE_PD, PAE_PT + 24, bool(pde & PS), nxe=nxe)
    assert ram.read_u64(PDPT) == PAE_PD | P
    # A/D rewrote low dwords only: the high ones are as they were.
    assert ram.read_u64(PAE_PD) >> 32 == pde >> 32
    assert ram.read_u64(PAE_PT + 24) >> 32 == pte >> 32
