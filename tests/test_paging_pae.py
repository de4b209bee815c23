"""The walker under PAE paging: PDPTE loading, 2 MiB pages, reserved bits, NX, A/D.

Expected values are QEMU 7.2's for qemu32 (MAXPHYADDR 32: probe on qemu-system-i386 7.2.22,
a 2 MiB PDE and a PTE with bit 32 set both gave a reserved-bit #PF), except where a test
says the Intel SDM (and Bochs) decide.
"""

from __future__ import annotations

import pytest
from pagetables import (
    NX,
    PAE_PD,
    PAE_PT,
    PDPT,
    PG,
    PS,
    RW,
    US,
    A,
    D,
    P,
    Ram,
    fault,
    pae_map4k,
    walker_pae,
)

from bt.paging import (
    CR4_PAE,
    EFER_NXE,
    FETCH,
    PF_I,
    PF_P,
    PF_RSVD,
    PF_U,
    PF_W,
    READ,
    WRITE,
    BadPdpte,
    PageWalker,
)

RSVD = PF_RSVD | PF_P


@pytest.mark.parametrize(
    ("linear", "phys"),
    [(0x0000_0000, 0x0000_7000), (0x0000_1FFF, 0x0000_8FFF), (0x0020_0ABC, 0x00A0_0ABC),
     (0x003F_FFFF, 0x00BF_FFFF), (0x4000_1234, 0xFFFF_F234), (0xC000_0001, 0x0060_0001)],
)  # fmt: skip
def test_pae_translation(linear: int, phys: int) -> None:
    ram = Ram()
    ram.put64(PDPT + 0, PAE_PD | P)
    ram.put64(PDPT + 8, 0x7000 | P)  # 0x40000000
    ram.put64(PDPT + 24, 0x8000 | P | 0x18)  # 0xC0000000; PWT/PCD are allowed
    ram.put64(PAE_PD + 0, PAE_PT | P)
    ram.put64(PAE_PD + 8, 0x00A0_0000 | P | PS)  # 2 MiB
    ram.put64(PAE_PT + 0, 0x7000 | P)
    ram.put64(PAE_PT + 8, 0x8000 | P | 0x80)  # bit 7 is PAT in a PTE, not PS
    ram.put64(0x7000, 0x9000 | P)
    ram.put64(0x9000 + 8, 0xFFFF_F000 | P)
    ram.put64(0x8000, 0x0060_0000 | P | PS | 0x1000)  # PAT (bit 12) is no address bit
    w = walker_pae(ram)
    assert w.enabled and w.pae
    assert w.translate(linear, READ, False)[0] == phys
    assert w.probe(linear) == phys


def test_pae_accessed_and_dirty() -> None:
    """A on the PDE before the PTE is read, A/D on the leaf, low dword only (QEMU's 32-bit
    cmpxchg), no write when nothing changes. No A on the PDPTE: see the next test."""
    ram = Ram()
    pae_map4k(ram, 0x3000, NX | 0x9000 | P | RW, P | RW)
    w = walker_pae(ram, nx=True, nxe=True)
    pde_addr, pte_addr = PAE_PD, PAE_PT + 3 * 8
    assert w.translate(0x3004, READ, False) == (0x9004, False)
    assert ram.writes == [(pde_addr, PAE_PT | P | RW | A), (pte_addr, 0x9000 | P | RW | A)]
    assert ram.read_u64(pte_addr) == NX | 0x9000 | P | RW | A
    ram.writes.clear()
    assert w.translate(0x3008, WRITE, False) == (0x9008, True)
    assert w.translate(0x3008, WRITE, False) == (0x9008, True)
    assert ram.writes == [(pte_addr, 0x9000 | P | RW | A | D)]
    ram.put64(PAE_PD + 8, 0x0040_0000 | P | PS)  # 2 MiB, read-only
    ram.writes.clear()
    assert w.translate(0x0020_0010, READ, False) == (0x0040_0010, False)
    assert fault(w, 0x0020_0010, WRITE, True) == PF_P | PF_W | PF_U
    assert ram.writes == [(PAE_PD + 8, 0x0040_0000 | P | PS | A)]


def test_no_accessed_bit_in_the_pdpte() -> None:
    """QEMU 7.2 sets bit 5 of a PDPTE it walks (probe: 0x00305001 read back as 0x00305021),
    but the SDM reserves that bit (Bochs: PAGING_PAE_PDPTE_RESERVED_BITS 0x1e6) and the next
    MOV CR3 would then #GP. The SDM decides: the PDPTE is not written."""
    ram = Ram()
    pae_map4k(ram, 0, 0x9000 | P | RW)
    w = walker_pae(ram)
    w.translate(0, WRITE, False)
    assert ram.read_u64(PDPT) == PAE_PD | P
    assert PDPT not in [addr for addr, _ in ram.writes]
    w.set_mode(PG, PDPT, CR4_PAE)  # the guest's next MOV CR3 still works


@pytest.mark.parametrize(
    ("where", "bit"),
    [("pde", 32), ("pde", 51), ("pde", 52), ("pde", 62), ("pde", 63),
     ("pte", 32), ("pte", 40), ("pte", 52), ("pte", 62), ("pte", 63),
     ("pde2m", 13), ("pde2m", 20), ("pde2m", 32), ("pde2m", 63)],
)  # fmt: skip
def test_pae_reserved_bits(where: str, bit: int) -> None:
    """Bits 51:32 above MAXPHYADDR, 62:52 (QEMU reserves them in legacy PAE as the SDM does,
    probe: bit 52 of a PDE and a PTE faulted), 63 without NXE, 20:13 of a 2 MiB PDE."""
    ram = Ram()
    pae_map4k(ram, 0x0040_3000, 0x9000 | P | RW, P | RW)
    ram.put64(PAE_PD + 8, 0x0060_0000 | P | PS)
    addr, linear = {
        "pde": (PAE_PD + 2 * 8, 0x0040_3000),
        "pte": (PAE_PT + 3 * 8, 0x0040_3000),
        "pde2m": (PAE_PD + 8, 0x0020_0000),
    }[where]
    ram.put64(addr, ram.read_u64(addr) | 1 << bit)
    w = walker_pae(ram)
    ram.writes.clear()
    assert fault(w, linear) == RSVD
    assert fault(w, linear, WRITE, True) == RSVD | PF_W | PF_U
    assert fault(w, linear, FETCH) == RSVD  # no I/D without NXE
    assert w.probe(linear) is None
    # The faulting entry keeps A clear; a PDE above a faulting PTE got its A.
    assert ram.writes == ([(PAE_PD + 16, PAE_PT | P | RW | A)] if where == "pte" else [])


def test_wider_maxphyaddr_moves_the_reserved_bits() -> None:
    ram = Ram()
    pae_map4k(ram, 0x5000, 1 << 35 | 0x9000 | P)
    assert walker_pae(ram, maxphyaddr=36).translate(0x5010, READ, False)[0] == 0x8_0000_9010
    assert fault(walker_pae(ram), 0x5010) == RSVD  # qemu32: bit 35 is above MAXPHYADDR
    ram.put64(PAE_PT + 5 * 8, 1 << 36 | 0x9000 | P)
    assert fault(walker_pae(ram, maxphyaddr=36), 0x5010) == RSVD


def test_nx_with_nxe() -> None:
    """EFER.NXE on a model with NX: bit 63 is XD in a PDE or PTE, a fetch from such a page is
    a protection fault, and every fetch fault has I/D (probe with -cpu qemu32,+nx: a read of
    an XD 2 MiB page works, its fetch gives 0x11, a not-present fetch 0x10; on plain qemu32
    WRMSR leaves EFER.NXE clear and the XD bit gives a reserved-bit fault)."""
    ram = Ram()
    pae_map4k(ram, 0x1000, NX | 0x9000 | P | RW | US, P | RW | US)  # XD in the PTE
    pae_map4k(ram, 0x2000, 0xA000 | P | RW | US, P | RW | US)
    ram.put64(PAE_PD + 8, NX | 0x0040_0000 | P | RW | US | PS)  # XD in a 2 MiB PDE
    w = walker_pae(ram, nx=True, nxe=True)
    for user in (False, True):
        assert w.translate(0x1000, READ, user)[0] == 0x9000
        assert w.translate(0x1000, WRITE, user) == (0x9000, True)
        assert w.translate(0x2000, FETCH, user)[0] == 0xA000
        assert w.translate(0x0020_0000, READ, user)[0] == 0x0040_0000
        u = PF_U if user else 0
        assert fault(w, 0x1000, FETCH, user) == PF_P | PF_I | u
        assert fault(w, 0x0020_0000, FETCH, user) == PF_P | PF_I | u
        assert fault(w, 0x3000, FETCH, user) == PF_I | u  # not present
    ram.put64(PAE_PD, NX | PAE_PT | P | RW | US)  # XD in the PDE above a 4 KiB page
    assert fault(w, 0x2000, FETCH) == PF_P | PF_I
    for nx, efer in ((False, EFER_NXE), (True, 0)):  # no NX model, or NXE clear: reserved
        w = PageWalker(ram, nx=nx)
        w.set_mode(PG, PDPT, CR4_PAE, efer)
        assert fault(w, 0x1000) == RSVD
        assert fault(w, 0x1000, FETCH) == RSVD


@pytest.mark.parametrize("bit", [1, 2, 5, 6, 7, 8, 32, 51, 52, 62, 63])
@pytest.mark.parametrize("index", [0, 3])
def test_bad_pdpte(bit: int, index: int) -> None:
    """SDM 4.4.1: a present PDPTE with reserved bits (63:52 including XD even with NXE,
    51:MAXPHYADDR, 8:5, 2:1) makes the MOV CR0/CR3/CR4 #GP(0). QEMU 7.2 checks nothing at
    the MOV (probe: bits 2, 8 and 63 loaded fine). The walker keeps its previous mode."""
    ram = Ram()
    pae_map4k(ram, 0x1000, 0x9000 | P)
    w = walker_pae(ram, nx=True, nxe=True)
    ram.put64(PDPT + 8 * index, 0xB000 | P | 1 << bit)
    with pytest.raises(BadPdpte) as exc:
        w.set_mode(PG, PDPT, CR4_PAE, EFER_NXE)
    assert exc.value.index == index
    assert w.translate(0x1000, READ, False)[0] == 0x9000  # the old PDPTEs still walk
    ram.put64(PDPT + 8 * index, 0xB000 | 1 << bit)  # not present: not checked
    w.set_mode(PG, PDPT, CR4_PAE, EFER_NXE)
    ram.put64(PDPT + 8 * index, 0xB000 | P | 1 << bit)
    w.set_mode(PG & ~0x8000_0000, PDPT, CR4_PAE)  # paging off: nothing is loaded
    assert not w.enabled
    with pytest.raises(BadPdpte):
        w.set_mode(PG, PDPT, CR4_PAE)  # turning paging on loads them


def test_pdptes_are_loaded_at_set_mode_not_at_each_walk() -> None:
    """Hardware (SDM 4.4.1) keeps the PDPTEs in registers until CR3 is loaded again; QEMU
    re-reads them on every walk. The brief follows the hardware."""
    ram = Ram()
    pae_map4k(ram, 0x1000, 0x9000 | P)
    ram.put64(0xC000 + 8, 0xD000 | P)  # a second PD, its PDE 1 -> 0xD000
    ram.put64(0xD000 + 8, 0xE000 | P)
    w = walker_pae(ram)
    ram.put64(PDPT, 0xC000 | P)
    assert w.translate(0x1000, READ, False)[0] == 0x9000
    assert fault(w, 0x0020_1000) == 0  # the old PD has no PDE 1
    w.set_mode(PG, PDPT | 0x18, CR4_PAE)  # CR3 bits 4:3 are PWT/PCD
    assert w.translate(0x0020_1000, READ, False)[0] == 0xE000
    assert w.probe(0x1000) is None
    assert fault(w, 0x8000_0000) == 0  # PDPTE 2 is not present


def test_probe_has_no_side_effects_and_ignores_permissions() -> None:
    ram = Ram()
    pae_map4k(ram, 0x1000, 0x9000 | P, P)  # supervisor, read-only, A clear
    ram.put64(PAE_PD + 8, 0x0040_0000 | P | PS)
    w = walker_pae(ram, wp=True)
    assert w.probe(0x1234) == 0x9234
    assert w.probe(0x0020_0001) == 0x0040_0001
    assert w.probe(0x2000) is None
    assert ram.writes == []
    assert fault(w, 0x1234, WRITE, True) == PF_P | PF_W | PF_U
