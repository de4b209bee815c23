"""What guest paging on Unicorn's own walker stands on (bt/shadowpaging.py), checked on Unicorn
itself: SMAP on the Broadwell model, the TLB mode switched between runs, CR2 and the error code.
"""

from __future__ import annotations

import struct

from unicorn import (
    UC_ARCH_X86,
    UC_HOOK_INTR,
    UC_HOOK_TLB_FILL,
    UC_MODE_32,
    UC_PROT_EXEC,
    UC_TLB_CPU,
    UC_TLB_VIRTUAL,
    Uc,
)
from unicorn import x86_const as R

from bt.prevexception import ExceptionMemory
from bt.realsegments import descriptor

TC = 0xE0000000  # linear, backed by Unicorn-physical 4 GiB, as the cache window is
TC_PHYS = 1 << 32
PDPT, PD0, PD3, PT0, TCPT = 0x100000, 0x101000, 0x104000, 0x105000, 0x106000


def _cpu() -> Uc:
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.ctl_set_cpu_model(R.UC_CPU_X86_BROADWELL)
    uc.mem_map(0, 2 << 20)
    uc.mem_map(TC_PHYS, 0x10000)
    gdt = bytes(8) + descriptor(0, 0xFFFFFFFF, 0x9B) + descriptor(0, 0xFFFFFFFF, 0x93)
    uc.mem_write(0x1000, gdt)
    uc.reg_write(R.UC_X86_REG_GDTR, (0, 0x1000, len(gdt) - 1, 0))
    uc.reg_write(R.UC_X86_REG_CR0, 0x11)
    uc.reg_write(R.UC_X86_REG_CS, 0x08)
    for reg in (R.UC_X86_REG_SS, R.UC_X86_REG_DS, R.UC_X86_REG_ES):
        uc.reg_write(reg, 0x10)
    # PAE: 0-2 MiB supervisor pages (0x7000 absent), the window's first 64 KiB user, read-only.
    uc.mem_write(PDPT, struct.pack("<4Q", PD0 | 1, 0, 0, PD3 | 1))
    uc.mem_write(PD0, struct.pack("<Q", PT0 | 7))
    ptes = [(p << 12) | 0x63 for p in range(512)]
    ptes[7] = 0
    uc.mem_write(PT0, struct.pack("<512Q", *ptes))
    uc.mem_write(PD3 + ((TC >> 21) & 511) * 8, struct.pack("<Q", TCPT | 7))
    uc.mem_write(TCPT, struct.pack("<16Q", *((TC_PHYS + (p << 12)) | 0x25 for p in range(16))))
    return uc


def _native(uc: Uc) -> None:
    uc.ctl_set_tlb_mode(UC_TLB_CPU)
    uc.reg_write(R.UC_X86_REG_CR3, PDPT)
    uc.reg_write(R.UC_X86_REG_CR4, (1 << 5) | (1 << 21))  # PAE, SMAP
    uc.reg_write(R.UC_X86_REG_CR0, 0x80010011)  # PG, WP, PE


def _run(uc: Uc, code: bytes, at: int = 0) -> list[tuple[int, int, int]]:
    """Run `code` at TC + at; each exception: (vector, CR2, error code), the CPU stopped."""
    seen: list[tuple[int, int, int]] = []
    memory = ExceptionMemory(uc)

    def intr(u: Uc, vector: int, _ud: object) -> None:
        seen.append((vector, u.reg_read(R.UC_X86_REG_CR2), memory.take()))
        u.emu_stop()

    hook = uc.hook_add(UC_HOOK_INTR, intr)
    uc.mem_write(TC_PHYS + at, code)
    uc.emu_start(TC + at, TC + at + len(code))
    uc.hook_del(hook)
    return seen


def test_smap_keeps_cpl0_data_out_of_user_pages_it_fetches_from() -> None:
    uc = _cpu()
    _native(uc)
    assert uc.reg_read(R.UC_X86_REG_CR4) & (1 << 21)  # the model takes SMAP
    # mov eax, [0x5000] (supervisor page: fine); mov ebx, [TC] (a user page: SMAP)
    got = _run(uc, b"\xa1\x00\x50\x00\x00" + b"\x8b\x1d" + struct.pack("<I", TC) + b"\x90")
    assert got == [(14, TC, 0x1)]  # present, read, supervisor: the SMAP fault
    # With AC set SMAP lets it through: translated code must never run with the real AC set.
    uc.reg_write(R.UC_X86_REG_EFLAGS, uc.reg_read(R.UC_X86_REG_EFLAGS) | 0x40000)
    assert _run(uc, b"\x8b\x1d" + struct.pack("<I", TC) + b"\x90", at=0x100) == []


def test_the_error_code_tells_a_write_and_the_tlb_mode_switches_between_runs() -> None:
    uc = _cpu()
    _native(uc)
    assert _run(uc, b"\xa1\x00\x70\x00\x00\x90") == [(14, 0x7000, 0)]  # read, not present
    assert _run(uc, b"\xa3\x00\x70\x00\x00\x90", 0x40) == [(14, 0x7000, 2)]  # a write
    assert _run(uc, b"\x01\x05\x00\x70\x00\x00\x90", 0x80) == [(14, 0x7000, 0)]  # RMW: load
    # Back to the fill hook: every fill asked, the walker's tables ignored.
    fills: list[int] = []

    def fill(_u: Uc, vaddr: int, _access: int, entry: object, _ud: object) -> bool:
        fills.append(vaddr)
        phys = TC_PHYS + (vaddr - TC) if vaddr >= TC else vaddr
        entry.paddr = phys  # type: ignore[attr-defined]
        entry.perms = UC_PROT_EXEC | 3  # type: ignore[attr-defined]
        return True

    uc.hook_add(UC_HOOK_TLB_FILL, fill)
    uc.reg_write(R.UC_X86_REG_CR0, 0x11)
    uc.reg_write(R.UC_X86_REG_CR4, 0)
    uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
    assert _run(uc, b"\xa1\x00\x70\x00\x00\x90", 0xC0) == []  # 0x7000 is RAM to the hook
    assert 0x7000 in fills
