"""Isolation: nothing a guest does reaches the translation cache, the monitor's page or the real
CPU state the monitor owns."""

from __future__ import annotations

import random

import keystone
import pytest
from unicorn import x86_const as R

from bt.bootimage import MemoryChunk
from bt.layout import MON_LINEAR, MON_PHYS, TC_LINEAR, TC_PHYS
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig
from bt.realsegments import SEL_CODE
from tools.isolation_check import MonitorWatch

BASE = 0x100000
_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)


def machine(text: str, tmp_path: object) -> tuple[Machine, MonitorWatch]:
    """A machine running `text` assembled as a flat binary at 1 MiB, and a watch on every byte
    the monitor writes into the translation cache and its page."""
    from pathlib import Path

    code = bytes(_KS.asm(text, BASE)[0])
    path = Path(str(tmp_path)) / "guest.bin"
    path.write_bytes(code)
    image = load_guest(str(path), 128 << 20, "", BASE, None)
    m = Machine(MachineConfig(128 << 20), image, lambda _b: None)
    return m, MonitorWatch(m)


def assert_isolated(watch: MonitorWatch) -> None:
    """Every byte of the translation cache and the monitor page is what the monitor last wrote
    there; the real GDTR, CS (CPL 3) and EFLAGS (IOPL 3, IF the virtual one) are the monitor's."""
    assert watch.cache
    assert watch.violations() == []


def test_guest_writes_to_the_cache_window_do_not_reach_translated_code(tmp_path: object) -> None:
    m, watch = machine(
        """
        mov edi, 0xE0000000
        mov ecx, 0x4000
        mov eax, 0xCCCCCCCC
        rep stosd
        mov dword ptr [0xE4000000], 0xCCCCCCCC
        mov esi, 0xE0000000
        lodsd
        mov ebx, eax
        mov al, 0
        out 0xf4, al
        """,
        tmp_path,
    )
    result = m.run(max_insns=100_000)
    assert result.kind == "exit-port"
    # The guest sees unassigned memory there (QEMU reads 0), never the monitor's bytes.
    assert m.engine.read_reg(R.UC_X86_REG_EBX) == 0
    assert_isolated(watch)
    gdt = bytes(m.engine.uc.mem_read(MON_PHYS, 8 * 9))
    assert b"\xcc\xcc\xcc\xcc" not in gdt


def test_guest_jump_into_the_cache_window_runs_guest_memory(tmp_path: object) -> None:
    # A jump to the window executes the guest's view of those addresses (zeros: `add [eax], al`
    # over and over), as on a PC: translated code is never entered by guest addresses.
    m, watch = machine("mov eax, 0x200000; jmp 0xE0000000", tmp_path)
    result = m.run(max_insns=20000)
    assert result.kind == "limit"
    assert 0xE0000000 <= result.eip < 0xE0010000
    assert m.vcpu.segs["cs"].selector == 0x08
    assert_isolated(watch)


def test_privileged_instructions_leave_the_real_cpu_alone(tmp_path: object) -> None:
    m, watch = machine(
        """
        lgdt [gdtr]
        lidt [gdtr]
        cli
        mov eax, cr0
        or eax, 0x8
        mov cr0, eax
        mov al, 0
        out 0xf4, al
        gdtr: nop
        """,
        tmp_path,
    )
    real_gdtr = m.engine.uc.reg_read(R.UC_X86_REG_GDTR)
    result = m.run(max_insns=100_000)
    assert result.kind == "exit-port"
    assert m.engine.uc.reg_read(R.UC_X86_REG_GDTR) == real_gdtr
    assert real_gdtr[1] == MON_LINEAR
    assert m.engine.read_reg(R.UC_X86_REG_CS) == SEL_CODE  # still the monitor's CS (real CPL 0)
    # The real IF is the virtual one; AC (which would lift SMAP), TF, NT and VM stay clear.
    assert m.engine.read_reg(R.UC_X86_REG_EFLAGS) & 0x64300 == 0
    assert not m.vcpu.interrupts_enabled
    assert m.vcpu.cr0 & 0x8
    assert m.vcpu.gdtr != (MON_LINEAR, 0x47)
    assert_isolated(watch)


def test_monitor_page_is_invisible_to_guest_reads(tmp_path: object) -> None:
    m, watch = machine(
        """
        mov eax, dword ptr [0xE4000000 + 8]
        mov ebx, dword ptr [0xE4000000 + 12]
        mov al, 0
        out 0xf4, al
        """,
        tmp_path,
    )
    m.run(max_insns=100_000)
    # The real GDT's code descriptor lives there for the monitor; the guest reads zeros.
    assert m.engine.read_reg(R.UC_X86_REG_EBX) == 0
    assert TC_LINEAR < MON_LINEAR
    assert_isolated(watch)


def test_boot_chunks_cover_the_image(tmp_path: object) -> None:
    m, _ = machine("nop", tmp_path)
    assert any(isinstance(c, MemoryChunk) and c.paddr == BASE for c in m.image.chunks)


def test_access_straddling_4gib_wraps_and_never_reaches_the_cache(tmp_path: object) -> None:
    # Found by tools/fuzz.py: a dword read at 0xFFFFFFFF asks the TLB for the page above
    # 4 GiB, where the translation cache lives in Unicorn's physical memory. It must wrap to
    # linear 0, as QEMU does.
    m, watch = machine(
        """
        mov dword ptr [0], 0x44332211
        mov esi, 0xFFFFFFFF
        lodsd
        mov ebx, eax
        mov dword ptr [0xFFFFFFFE], 0xAABBCCDD
        mov ecx, dword ptr [0]
        mov al, 0
        out 0xf4, al
        """,
        tmp_path,
    )
    assert m.run(max_insns=100_000).kind == "exit-port"
    assert m.engine.read_reg(R.UC_X86_REG_EBX) == 0x33221100
    assert m.engine.read_reg(R.UC_X86_REG_ECX) == 0x4433AABB
    assert_isolated(watch)


def test_the_watch_sees_a_byte_changed_behind_the_monitors_back(tmp_path: object) -> None:
    # The checks above are only worth something if they can fail: change one translated byte
    # and one monitor-page byte through Unicorn's C API, which the watch does not see.
    from unicorn.unicorn_py3.unicorn import uclib

    m, watch = machine("mov al, 0\nout 0xf4, al", tmp_path)
    assert m.run(max_insns=100).kind == "exit-port"
    assert watch.violations() == []
    addr = next(iter(watch.cache))
    old = m.engine.read_code(addr, 1)
    uclib.uc_mem_write(m.engine.uc._uch, TC_PHYS + addr - TC_LINEAR, bytes([old[0] ^ 1]), 1)
    uclib.uc_mem_write(m.engine.uc._uch, MON_PHYS + 0x10, b"\x55", 1)
    found = watch.violations()
    assert f"translated code at 0x{addr:08x} changed" in found
    assert any("monitor page at 0xe4000010" in v for v in found)


# Under guest paging: a page directory at 0x200000 whose entries the guest aims at the monitor:
# 0-4 MiB identity (PSE); a 4 MiB page with bits 20:13 = 1, physical 4 GiB; 0xE0000000 ->
# physical 0xE0000000 (unassigned); 0xE0400000 through a page table at 0x201000 whose first page
# is physical 0xFFFFF000.
_PAGING = """
    mov edi, 0x200000
    mov ecx, 1024
    xor eax, eax
    rep stosd
    mov dword ptr [0x200000], 0x00000083
    mov dword ptr [0x200004], 0x00002083
    mov dword ptr [0x200e00], 0xE0000083
    mov dword ptr [0x200e04], 0x00201003
    mov dword ptr [0x201000], 0xFFFFF003
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov eax, 0x200000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
"""


def test_page_tables_cannot_reach_the_monitor(tmp_path: object) -> None:
    # Physical 4 GiB is where the translation cache lives in Unicorn's address space: a guest
    # 4 MiB page there (PSE's bits 20:13 name physical bits 39:32, as on QEMU) reads 0.
    m, watch = machine(
        _PAGING
        + """
        mov edi, 0x400000
        mov ecx, 0x1000
        mov eax, 0xCCCCCCCC
        rep stosd
        mov ebx, [0x400000]
        mov edi, 0xE0000000
        mov ecx, 0x1000
        rep stosd
        mov esi, [0xE0000000]
        mov dword ptr [0xE0400000], 0xCCCCCCCC
        mov edx, [0xE0400000]
        mov al, 0
        out 0xf4, al
        """,
        tmp_path,
    )
    result = m.run(max_insns=100_000)
    assert result.kind == "exit-port", result
    assert m.mmu.enabled
    regs = [m.engine.read_reg(r) for r in (R.UC_X86_REG_EBX, R.UC_X86_REG_ESI, R.UC_X86_REG_EDX)]
    assert regs == [0, 0, 0]  # unassigned memory, as QEMU shows it
    assert_isolated(watch)


def test_guest_ram_mapped_over_the_cache_window_is_the_guests(tmp_path: object) -> None:
    # Unicorn's own walker serves guest paging (bt/shadowpaging.py); the window's linear
    # addresses are the cache's there, kept from data accesses by SMAP: a guest page mapped at
    # 0xE0000000 reads and writes as the guest's RAM, and the translated code stays intact.
    m, watch = machine(
        """
        mov dword ptr [0x800000], 0x11223344
        mov dword ptr [0x800ffc], 0x55667788
        """
        + _PAGING.replace("0xE0000083", "0x00800083")
        + """
        mov ebx, [0xE0000000]
        mov dword ptr [0xE0000004], 0x99AABBCC
        mov esi, [0xE0000ffc]
        mov eax, [0xE0000004]
        mov edx, eax
        mov al, 0
        out 0xf4, al
        """,
        tmp_path,
    )
    result = m.run(max_insns=100_000)
    assert result.kind == "exit-port", result
    regs = [m.engine.read_reg(r) for r in (R.UC_X86_REG_EBX, R.UC_X86_REG_ESI, R.UC_X86_REG_EDX)]
    assert regs == [0x11223344, 0x55667788, 0x99AABBCC]
    assert m.memory.read_phys(0x800004, 4) == bytes.fromhex("ccbbaa99")
    assert m.engine.native_faults > 0 and m.engine.mode.on  # Unicorn's walker did the rest
    assert_isolated(watch)


def test_a_page_fault_handler_cannot_reach_the_monitor_either(tmp_path: object) -> None:
    # No IDT: the #PF of a not-present page escalates to a triple fault, reported, with the
    # monitor's state untouched.
    m, watch = machine(_PAGING + "mov eax, [0x800000]\n", tmp_path)
    result = m.run(max_insns=100_000)
    assert result.kind == "crash" and "triple fault" in result.message, result
    assert m.vcpu.cr2 == 0x800000
    assert_isolated(watch)


def _random_paging(rng: random.Random) -> str:
    """Random page-directory and page-table entries, CR4 paging bits and accesses anywhere."""
    lines = []
    for _ in range(rng.randint(4, 40)):
        addr = rng.choice([0x200004, 0x201000]) + 4 * rng.randrange(1023)
        lines.append(f"mov dword ptr [{addr:#x}], {rng.getrandbits(32):#x}")
    lines += [f"mov eax, {rng.choice([0x10, 0x30, 0x90, 0xB0, 0x20]):#x}", "mov cr4, eax"]
    lines += ["mov eax, 0x200000", "mov cr3, eax"]
    for _ in range(rng.randint(5, 30)):
        a = rng.getrandbits(32)
        lines.append(
            rng.choice(
                [
                    f"mov eax, [{a:#x}]",
                    f"mov dword ptr [{a:#x}], eax",
                    f"push dword ptr [{a:#x}]",
                    f"lea esp, [{a:#x}]",
                    f"invlpg [{a:#x}]",
                    f"jmp {a & 0x3FFFFF:#x}",
                ]
            )
        )
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(24))
def test_random_page_tables_cannot_reach_the_monitor(seed: int, tmp_path: object) -> None:
    # Whatever the guest's page tables say, its accesses end in a fault (here: a triple fault,
    # there is no IDT) or run on, and never touch the cache, the monitor page or the real CPU.
    m, watch = machine(_PAGING + _random_paging(random.Random(seed)), tmp_path)
    result = m.run(max_insns=20_000)
    assert result.kind in ("crash", "limit", "exit-port"), result
    assert_isolated(watch)
