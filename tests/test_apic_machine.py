"""The APICs in the machine: present where QEMU has them (CPUID, the MSR and the device agree on
every CPU model and machine type), reached by translated code with paging off and on, and an
interrupt that a device write makes deliverable taken right after the writing instruction, as
on a PC (QEMU's TCG takes it at the end of its translation block: guests/apic.asm waits for it
at a jump, so both print the same)."""

from __future__ import annotations

from pathlib import Path

import keystone
import pytest

from bt import msrs
from bt.bootimage import BootImage
from bt.cpumodel import MODELS
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig

RESULTS = 0x300000


def _machine(tmp_path: Path, text: str, cpu: str = "qemu32", machine: str = "pc") -> Machine:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    path = tmp_path / "guest.bin"
    path.write_bytes(bytes(ks.asm(text, 0x100000)[0]))
    image: BootImage = load_guest(str(path), 16 << 20, "", 0x100000, None)
    return Machine(
        MachineConfig(16 << 20, cpu=MODELS[cpu], machine=machine), image, lambda _b: None
    )


def _results(m: Machine, n: int) -> list[int]:
    return [int.from_bytes(m.memory.read(RESULTS + 4 * i, 4), "little") for i in range(n)]


PROBE = """
    mov eax, dword ptr [0xFEE00030]
    mov dword ptr [0x300000], eax
    mov dword ptr [0xFEC00000], 1
    mov eax, dword ptr [0xFEC00010]
    mov dword ptr [0x300004], eax
    mov ecx, 0x1b
    rdmsr
    mov dword ptr [0x300008], eax
    mov eax, 1
    cpuid
    mov dword ptr [0x30000c], edx
    mov al, 0
    out 0xf4, al
"""


@pytest.mark.parametrize("machine", ["pc", "isapc"])
@pytest.mark.parametrize("cpu", sorted(MODELS))
def test_cpuid_msr_and_device_agree(tmp_path: Path, cpu: str, machine: str) -> None:
    m = _machine(tmp_path, PROBE, cpu, machine)
    res = m.run(max_insns=10_000)
    assert res.kind == "exit-port", res
    version, ioapic_version, base, edx = _results(m, 4)
    has = MODELS[cpu].has("apic")
    assert bool(edx & 1 << 9) == has
    assert (m.apics.lapic is not None) == has
    assert (m.apics.ioapic is not None) == (has and machine == "pc")
    assert base == msrs.initial(MODELS[cpu], msrs.APIC_BASE) == (0xFEE00900 if has else 0x100)
    assert version == (0x00050014 if has else 0)  # unassigned reads 0, as under QEMU
    assert ioapic_version == (0x00170020 if has and machine == "pc" else 0)


# Vector 0x41 (a counting handler that signals EOI), 0x51 (a trap gate: IF stays set) that
# sends a lower-priority IPI and EOIs inside, 0x61 (IRQ 1, level) and 2 (NMI).
IDT = """
    mov edi, 0x200000
    mov eax, h41
    mov ebx, 0x41
    call gate
    mov eax, h51
    mov ebx, 0x51
    call gate
    mov byte ptr [0x200000 + 0x51 * 8 + 5], 0x8f
    mov eax, h61
    mov ebx, 0x61
    call gate
    mov eax, hnmi
    mov ebx, 2
    call gate
    sub esp, 6
    mov word ptr [esp], 0x7ff
    mov dword ptr [esp + 2], 0x200000
    lidt [esp]
    add esp, 6
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
"""

PAGING = """
    mov edi, 0x380000
    mov dword ptr [edi], 0x83
    mov dword ptr [edi + 0x3fb * 4], 0xfec0009b
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov cr3, edi
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
"""

PRECISE = """
    sti
    mov dword ptr [0xFEE00300], 0x40041
    mov eax, dword ptr [0x300040]
    mov dword ptr [0x300000], eax
    mov dword ptr [0xFEE00080], 0x50
    mov dword ptr [0xFEE00300], 0x40041
    mov eax, dword ptr [0x300040]
    mov dword ptr [0x300004], eax
    mov dword ptr [0xFEE00080], 0
    mov eax, dword ptr [0x300040]
    mov dword ptr [0x300008], eax
    mov dword ptr [0xFEE00300], 0x40051
    mov eax, dword ptr [0x300040]
    mov dword ptr [0x30000c], eax
    mov dword ptr [0xFEE00300], 0x40400
    mov eax, dword ptr [0x300048]
    mov dword ptr [0x300010], eax
    mov dword ptr [0xFEC00000], 0x12
    mov dword ptr [0xFEC00010], 0x18061
    mov al, 0xd2
    out 0x64, al
    mov al, 0x55
    out 0x60, al
    mov eax, dword ptr [0x30004c]
    mov dword ptr [0x300014], eax
    mov dword ptr [0xFEC00010], 0x8061
    mov eax, dword ptr [0x30004c]
    mov dword ptr [0x300018], eax
    mov dword ptr [0xFEE003E0], 0xb
    mov dword ptr [0xFEE00320], 0x41
    mov dword ptr [0xFEE00380], 10
    mov eax, dword ptr [0x300040]
    mov dword ptr [0x300020], eax
    mov al, 0
    out 0xf4, al
gate:
    mov word ptr [edi + ebx * 8], ax
    mov word ptr [edi + ebx * 8 + 2], 0x08
    mov word ptr [edi + ebx * 8 + 4], 0x8e00
    shr eax, 16
    mov word ptr [edi + ebx * 8 + 6], ax
    ret
h41:
    inc dword ptr [0x300040]
    mov dword ptr [0xFEE000B0], 0
    iretd
h51:
    mov dword ptr [0xFEE00300], 0x40041
    mov eax, dword ptr [0x300040]
    mov dword ptr [0x300044], eax
    mov dword ptr [0xFEE000B0], 0
    mov eax, dword ptr [0x300040]
    mov dword ptr [0x30001c], eax
    iretd
hnmi:
    inc dword ptr [0x300048]
    iretd
h61:
    push eax
    in al, 0x60
    inc dword ptr [0x30004c]
    mov dword ptr [0xFEE000B0], 0
    pop eax
    iretd
"""


@pytest.mark.parametrize("paging", [False, True])
def test_interrupt_taken_right_after_the_write(tmp_path: Path, paging: bool) -> None:
    m = _machine(tmp_path, IDT + (PAGING if paging else "") + PRECISE)
    res = m.run(max_insns=100_000)
    assert res.kind == "exit-port", res
    ipi, held, lowered, nested, nmi, masked, unmasked, after_eoi = _results(m, 8)
    assert ipi == 1  # the self-IPI, before the next instruction read the count
    assert (held, lowered) == (1, 2)  # TPR 0x50 held it; lowering TPR let it in at once
    assert _results(m, 18)[17] == 2  # inside the class-5 handler the class-4 IPI waited
    assert after_eoi == 3  # and came right after the handler's EOI (a trap gate: IF set)
    assert nested == 3
    assert nmi == 1
    assert (masked, unmasked) == (0, 1)  # IRQ 1's level pending, taken at the unmasking write
    assert _results(m, 9)[8] == 4  # a one-shot of 10 counts: expired right after the write


def test_writes_that_raise_nothing_do_not_stop(tmp_path: Path) -> None:
    text = (
        IDT
        + """
    mov ecx, 200
again:
    mov dword ptr [0xFEE00080], 0x50
    mov dword ptr [0xFEE00300], 0x40041
    dec ecx
    jnz again
    mov al, 0
    out 0xf4, al
"""
        + PRECISE[PRECISE.index("gate:") :]
    )
    m = _machine(tmp_path, text)
    res = m.run(max_insns=100_000)
    assert res.kind == "exit-port", res
    assert m.runloop.stats().emu_starts < 10  # held back by TPR: no stop for the 400 writes
    assert m.apics.lapic is not None and m.apics.lapic.irr & 1 << 0x41


KEYS_GUEST = """
    mov edi, 0x200000
    mov eax, h61
    mov ebx, 0x61
    call gate
    sub esp, 6
    mov word ptr [esp], 0x7ff
    mov dword ptr [esp + 2], 0x200000
    lidt [esp]
    add esp, 6
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    mov dword ptr [0xFEC00000], 0x12
    mov dword ptr [0xFEC00010], 0x61
    sti
wait:
    cmp dword ptr [0x300000], 4
    jae done
    hlt
    jmp wait
done:
    mov al, 0
    out 0xf4, al
gate:
    mov word ptr [edi + ebx * 8], ax
    mov word ptr [edi + ebx * 8 + 2], 0x08
    mov word ptr [edi + ebx * 8 + 4], 0x8e00
    shr eax, 16
    mov word ptr [edi + ebx * 8 + 6], ax
    ret
h61:
    push eax
    push ebx
    in al, 0x60
    mov ebx, dword ptr [0x300000]
    mov byte ptr [0x300010 + ebx], al
    inc dword ptr [0x300000]
    mov dword ptr [0xFEE000B0], 0
    pop ebx
    pop eax
    iretd
"""


def test_typed_keys_arrive_through_the_ioapic(tmp_path: Path) -> None:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    path = tmp_path / "guest.bin"
    path.write_bytes(bytes(ks.asm(KEYS_GUEST, 0x100000)[0]))
    image = load_guest(str(path), 16 << 20, "", 0x100000, None)
    m = Machine(MachineConfig(16 << 20, keys=b"ab"), image, lambda _b: None)
    res = m.run(max_insns=200_000)
    assert res.kind == "exit-port", res
    assert m.memory.read(0x300010, 4) == bytes((0x1E, 0x9E, 0x30, 0xB0))  # set 1, make/break


def test_a_request_raised_with_if_clear_is_taken_after_sti(tmp_path: Path) -> None:
    # Three passes over the same code: the first two translate and chain it while the IPI is
    # held back by TPR, the third lowers TPR with IF clear, and its STI must then reach the
    # monitor (the translations running were made while nothing was pending).
    text = (
        IDT
        + """
    mov dword ptr [0x300080], 0x50
    mov dword ptr [0x300084], 0x50
    mov dword ptr [0x300088], 0
    mov dword ptr [0xFEE00080], 0x50
    mov dword ptr [0xFEE00300], 0x40041
    xor esi, esi
again:
    cli
    mov edx, dword ptr [0x300080 + esi * 4]
    mov dword ptr [0xFEE00080], edx
    mov ecx, 10
spin:
    dec ecx
    jnz spin
    sti
    nop
    mov eax, dword ptr [0x300040]
    mov dword ptr [0x300000 + esi * 4], eax
    inc esi
    cmp esi, 3
    jb again
    mov al, 0
    out 0xf4, al
"""
        + PRECISE[PRECISE.index("gate:") :]
    )
    m = _machine(tmp_path, text)
    res = m.run(max_insns=100_000)
    assert res.kind == "exit-port", res
    assert _results(m, 3) == [0, 0, 1]  # taken after STI and the instruction in its shadow


def test_a_rom_from_the_reset_vector_finds_the_reset_state() -> None:
    from bt.apicsetup import make_apics
    from bt.devices.pic8259 import PicPair
    from bt.timebase import VirtualClock

    apics = make_apics(MODELS["qemu32"], "pc", VirtualClock(), PicPair(), firmware_ran=False)
    assert apics.lapic is not None
    assert [apics.lapic.read(off, 4) for off in (0xF0, 0x300, 0x350, 0x360)] == [
        0xFF,
        0,
        0x700,
        0x10000,
    ]
