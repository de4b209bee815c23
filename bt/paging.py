"""The guest page-table walker: linear -> guest-physical under 32-bit, PSE and PAE paging.

The reference is QEMU 7.2's mmu_translate (target/i386/tcg/sysemu/excp_helper.c) for the CPU
model the guest sees, `qemu32`: PSE, PAE and PGE, no PSE-36, no NX, MAXPHYADDR 32 (QEMU gives
a 32-bit CPU without PSE-36 32 physical address bits, so under PAE every entry bit from 32 up
to 62 is reserved). Where QEMU departs from the Intel SDM (vol. 3, ch. 4), the SDM and Bochs
decide; each such place is marked "SDM:" below and pinned by tests/test_paging_*.py:

- PAE PDPTEs are loaded into the walker when CR0/CR3/CR4 are written (`set_mode`) and checked
  there (reserved bits -> BadPdpte, the MOV's #GP(0)); QEMU re-reads them on every walk and
  never checks them at the MOV.
- The walker sets no accessed bit in a PDPTE: bit 5 of a PAE PDPTE is reserved, and setting it
  as QEMU does would make the guest's next MOV CR3 fault.
- A reserved-bit fault has P set along with RSVD (error code 9, not QEMU's 8): "bit 3 of the
  error code can be set only if bit 0 is also set" (SDM 4.7).

Everything else follows QEMU: which entries get A and D and when (an upper level's A is set
before the next level is read, so a walk that faults below still sets it; the leaf's A and D
only once the access is allowed), the 4 MiB PDE's bits 20:13 taken as physical bits 39:32 and
only bit 21 reserved, the I/D bit only with EFER.NXE under PAE. A/D updates rewrite only the
entry's low 32 bits, and only when a bit changes.

It runs inside Unicorn's TLB-fill hook, so the walk is one straight-line method over instance
attributes, allocating nothing but the result tuple; faults are rare and may cost more.
"""

from __future__ import annotations

from typing import Protocol

READ, WRITE, FETCH = 0, 1, 2  # access kinds
PF_P, PF_W, PF_U, PF_RSVD, PF_I = 1, 2, 4, 8, 16  # #PF error-code bits

# SDM: a reserved bit is only checked in a present entry, so RSVD comes with P (4.7; QEMU: 8).
RSVD_FAULT = PF_RSVD | PF_P

QEMU32_MAXPHYADDR = 32  # target/i386/cpu.c x86_cpu_realizefn: no LM, no PSE-36 -> 32 bits

CR0_PE, CR0_WP, CR0_PG = 1, 1 << 16, 1 << 31
CR4_PSE, CR4_PAE = 1 << 4, 1 << 5
EFER_NXE = 1 << 11

# Entry bits.
_P, _RW, _US, _A, _D, _PS = 1, 2, 4, 0x20, 0x40, 0x80
_NX = 1 << 63
_ADDR_4K = 0x000F_FFFF_FFFF_F000  # PAE entry address field, bits 51:12
_HI_IGNORED = 0x7FF0_0000_0000_0000  # bits 62:52: reserved in PAE paging (ignored in 4-level)
_PDPTE_FIXED_RSVD = 0xFFF0_0000_0000_01E6  # bits 63:52, 8:5, 2:1
_PAE_2M_RSVD = 0x001F_E000  # bits 20:13 of a 2 MiB PDE (bit 12 is PAT)
_PSE_4M_RSVD = 0x0020_0000  # bit 21 of a 4 MiB PDE: QEMU's only check without PSE-36
_PSE_4M_HIGH = 0x001F_E000  # bits 20:13 of a 4 MiB PDE: physical bits 39:32


class PageFault(Exception):
    """A guest #PF: the linear address for CR2 and the error code to push."""

    def __init__(self, linear: int, error_code: int) -> None:
        super().__init__(f"#PF at 0x{linear:08x}, error code 0x{error_code:x}")
        self.linear = linear
        self.error_code = error_code


class BadPdpte(Exception):
    """A present PAE PDPTE has reserved bits set: the MOV CR0/CR3/CR4 raises #GP(0)."""

    def __init__(self, index: int, entry: int) -> None:
        super().__init__(f"PDPTE {index} = 0x{entry:016x} has reserved bits set")
        self.index = index
        self.entry = entry


class PhysRam(Protocol):
    """Guest-physical memory as the walker reads page tables (little-endian)."""

    def read_u32(self, phys: int) -> int: ...

    def read_u64(self, phys: int) -> int: ...

    def write_u32(self, phys: int, value: int) -> None: ...  # A/D updates only


class PageWalker:
    """Translates guest linear addresses through the guest's page tables, as the CPU would."""

    __slots__ = (
        "enabled",
        "pae",
        "_read32",
        "_read64",
        "_write32",
        "_nx",
        "_maxphyaddr",
        "_sup_rw",
        "_pse",
        "_nxe",
        "_pd_base",
        "_pdptes",
        "_rsvd",
        "_idbit",
        "last_table",
    )

    def __init__(
        self, ram: PhysRam, *, nx: bool = False, maxphyaddr: int = QEMU32_MAXPHYADDR
    ) -> None:
        # Bound methods once: the walk calls them up to four times.
        self._read32 = ram.read_u32
        self._read64 = ram.read_u64
        self._write32 = ram.write_u32
        self._nx = nx  # the CPU model has NX: EFER.NXE means something
        self._maxphyaddr = maxphyaddr
        self.enabled = False  # CR0.PG (with PE)
        self.pae = False  # PAE paging in use: CR0.PG and CR4.PAE
        self._sup_rw = _RW  # R/W as a supervisor access sees it: always with CR0.WP clear
        self._pse = False
        self._nxe = False
        self._pd_base = 0
        self._pdptes: tuple[int, int, int, int] = (0, 0, 0, 0)
        self._rsvd = 0  # reserved bits of a PAE PDE or PTE
        self._idbit = 0  # PF_I on fetch faults, or 0
        self.last_table = -1  # the page table the last successful walk used (-1: a large page)

    def set_mode(self, cr0: int, cr3: int, cr4: int, efer: int = 0) -> None:
        """Take the paging registers after a MOV CR0/CR3/CR4 or WRMSR EFER.

        With PAE paging on, the four PDPTEs are loaded from CR3 bits 31:5 now, and later
        writes to them are not seen until this is called again. Raises BadPdpte (the MOV's
        #GP(0)) if a present one has a reserved bit set; the walker is then left unchanged.
        SDM: the hardware loads them at a MOV CR3 and at a MOV CR0/CR4 that changes PG, PAE,
        PSE or PGE; this loads them at every call (it cannot tell a MOV CR3 of the same value
        from a WRMSR EFER), which only differs for a guest that changed a PDPTE in memory
        without reloading CR3 and then wrote CR0/CR4/EFER (QEMU would see the new one too).
        """
        enabled = bool(cr0 & CR0_PG and cr0 & CR0_PE)
        pae = enabled and bool(cr4 & CR4_PAE)
        above = ((1 << 52) - 1) & ~((1 << self._maxphyaddr) - 1)  # bits 51:MAXPHYADDR
        pdptes = self._pdptes
        if pae:
            base = cr3 & 0xFFFF_FFE0
            read64 = self._read64
            loaded = (read64(base), read64(base + 8), read64(base + 16), read64(base + 24))
            for i, e in enumerate(loaded):
                if e & _P and e & (above | _PDPTE_FIXED_RSVD):
                    raise BadPdpte(i, e)
            pdptes = loaded
        # EFER.NXE exists only on a model with NX (QEMU masks it out of WRMSR otherwise) and
        # only PAE paging reads it (QEMU's get_pg_mode).
        nxe = self._nx and pae and bool(efer & EFER_NXE)
        self.enabled = enabled
        self.pae = pae
        self._sup_rw = 0 if cr0 & CR0_WP else _RW
        self._pse = bool(cr4 & CR4_PSE)
        self._nxe = nxe
        self._pd_base = cr3 & 0xFFFF_F000
        self._pdptes = pdptes
        self._rsvd = above | _HI_IGNORED | (0 if nxe else _NX)
        self._idbit = PF_I if nxe else 0

    def mode(self) -> tuple[int, int, int, int]:
        """What decides a translation besides the tables: PAE, PSE, CR0.WP, EFER.NXE."""
        return (int(self.pae), int(self._pse), int(not self._sup_rw), int(self._nxe))

    @property
    def pdptes(self) -> tuple[int, int, int, int]:
        """PAE's four PDPTEs as loaded at the last `set_mode`."""
        return self._pdptes

    def translate(
        self, linear: int, access: int, user: bool, commit: bool = True
    ) -> tuple[int, bool]:
        """(guest-physical address, write_ok) for an access, setting A/D bits; or PageFault.

        write_ok: a later write at the same privilege may use this translation without a new
        walk (the entries allow it and the leaf's D bit is set). Paging off: identity. With
        `commit` false nothing is written: whether the access would pass, and where to.
        """
        if not self.enabled:
            return linear & 0xFFFF_FFFF, True
        # Each format finds the leaf entry (its address, its low dword), the U/S and R/W bits
        # ANDed over the levels and the physical address; the checks and A/D are shared.
        if self.pae:
            # SDM: the PDPTE as set_mode loaded and checked it; no A bit is set in it.
            pdpte = self._pdptes[linear >> 30]
            if not pdpte & _P:
                raise self._fault(linear, 0, access, user)
            rsvd = self._rsvd
            addr = (pdpte & _ADDR_4K) | ((linear >> 18) & 0xFF8)
            pde = self._read64(addr)
            if not pde & _P:
                raise self._fault(linear, 0, access, user)
            if pde & rsvd:
                raise self._fault(linear, RSVD_FAULT, access, user)
            if pde & _PS:  # 2 MiB
                if pde & _PAE_2M_RSVD:
                    raise self._fault(linear, RSVD_FAULT, access, user)
                entry = pde
                perm = pde
                phys = (pde & _ADDR_4K & ~0x1F_FFFF) | (linear & 0x1F_FFFF)
                table = -1
            else:
                if not pde & _A and commit:
                    self._write32(addr, (pde & 0xFFFF_FFFF) | _A)
                addr = (pde & _ADDR_4K) | ((linear >> 9) & 0xFF8)
                entry = self._read64(addr)
                if not entry & _P:
                    raise self._fault(linear, 0, access, user)
                if entry & rsvd:
                    raise self._fault(linear, RSVD_FAULT, access, user)
                perm = pde & entry
                phys = (entry & _ADDR_4K) | (linear & 0xFFF)
                table = addr & ~0xFFF
            if access == FETCH and (pde | entry) & _NX:  # only reachable with NXE
                raise self._fault(linear, PF_P, access, user)
            entry &= 0xFFFF_FFFF  # A/D updates rewrite the low dword only
        else:
            addr = self._pd_base | ((linear >> 20) & 0xFFC)
            pde = self._read32(addr)
            if not pde & _P:
                raise self._fault(linear, 0, access, user)
            if pde & _PS and self._pse:  # 4 MiB
                if pde & _PSE_4M_RSVD:
                    raise self._fault(linear, RSVD_FAULT, access, user)
                entry = pde
                perm = pde
                phys = ((pde & _PSE_4M_HIGH) << 19) | (pde & 0xFFC0_0000) | (linear & 0x3F_FFFF)
                table = -1
            else:
                if not pde & _A and commit:
                    self._write32(addr, pde | _A)
                addr = (pde & 0xFFFF_F000) | ((linear >> 10) & 0xFFC)
                entry = self._read32(addr)
                if not entry & _P:
                    raise self._fault(linear, 0, access, user)
                perm = pde & entry
                phys = (entry & 0xFFFF_F000) | (linear & 0xFFF)
                table = addr & ~0xFFF
        if user:
            if not perm & _US:
                raise self._fault(linear, PF_P, access, user)
            writable = perm & _RW
        else:
            writable = (perm | self._sup_rw) & _RW  # CR0.WP=0: the supervisor writes anything
        if access == WRITE:
            if not writable:
                raise self._fault(linear, PF_P, access, user)
            new = entry | _A | _D
        else:
            new = entry | _A
        if new != entry and commit:
            self._write32(addr, new)
        self.last_table = table
        return phys, bool(writable and new & _D)

    def _fault(self, linear: int, code: int, access: int, user: bool) -> PageFault:
        """The #PF for a failed walk: `code` (0, P or P|RSVD) plus the access's W, U, I/D."""
        if access == WRITE:
            code |= PF_W
        elif access == FETCH:
            code |= self._idbit
        if user:
            code |= PF_U
        return PageFault(linear, code)

    def probe(self, linear: int) -> int | None:
        """The physical address of `linear` with no side effects and no permission check;
        None if it has no translation (an entry not present, or with reserved bits)."""
        if not self.enabled:
            return linear & 0xFFFF_FFFF
        if self.pae:
            pdpte = self._pdptes[linear >> 30]
            if not pdpte & _P:
                return None
            pde = self._read64((pdpte & _ADDR_4K) | ((linear >> 18) & 0xFF8))
            if not pde & _P or pde & self._rsvd:
                return None
            if pde & _PS:
                if pde & _PAE_2M_RSVD:
                    return None
                return (pde & _ADDR_4K & ~0x1F_FFFF) | (linear & 0x1F_FFFF)
            pte = self._read64((pde & _ADDR_4K) | ((linear >> 9) & 0xFF8))
            if not pte & _P or pte & self._rsvd:
                return None
            return (pte & _ADDR_4K) | (linear & 0xFFF)
        pde = self._read32(self._pd_base | ((linear >> 20) & 0xFFC))
        if not pde & _P:
            return None
        if pde & _PS and self._pse:
            if pde & _PSE_4M_RSVD:
                return None
            return ((pde & _PSE_4M_HIGH) << 19) | (pde & 0xFFC0_0000) | (linear & 0x3F_FFFF)
        pte = self._read32((pde & 0xFFFF_F000) | ((linear >> 10) & 0xFFC))
        if not pte & _P:
            return None
        return (pte & 0xFFFF_F000) | (linear & 0xFFF)
