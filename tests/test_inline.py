"""Inline emulation (translator/inline.py): the same guest state as the monitor's callouts,
without entering Python, and exact interrupt delivery when IF is set inline."""

from __future__ import annotations

from pathlib import Path

import keystone
import pytest
from limits import HANG_GUARD
from test_platform import IDT_SETUP, pit_rate

from bt.loader import load_guest
from bt.machine import Machine, MachineConfig
from bt.runresult import RunResult

BIN = Path(__file__).resolve().parent.parent / "guests" / "bin"
SCRATCH = 0x200000

# Every inline form, in the shapes guests write them; each result is stored at SCRATCH + n.
# (Keystone assembles SGDT/SIDT and PUSH CS/SS with an operand-size prefix: the 32-bit forms
# are spelled out: 0x0e is PUSH CS, 0x16 PUSH SS.)
MIX = """
    mov ebx, 0x200000
    pushfd
    pop eax
    mov [ebx], eax
    pushfd
    or dword ptr [esp], 0x3000
    popfd
    pushfd
    pop eax
    mov [ebx + 4], eax
    pushfd
    and dword ptr [esp], 0xffffcfff
    popfd
    pushfd
    pop eax
    mov [ebx + 8], eax
    pushfd
    or dword ptr [esp], 0x240000
    popfd
    pushfd
    pop eax
    mov [ebx + 12], eax
    pushfd
    and dword ptr [esp], 0xffdbffff
    popfd
    sti
    cli
    pushfd
    pop eax
    mov [ebx + 16], eax
    mov eax, 0xaaaa5555
    mov eax, cs
    mov [ebx + 20], eax
    mov edx, 0xaaaa5555
    mov dx, ss
    mov [ebx + 24], edx
    mov word ptr [ebx + 28], cs
    xor esi, esi
    mov word ptr [ebx + esi * 4 + 30], ss
    .byte 0x0e
    pop eax
    mov [ebx + 32], eax
    .byte 0x16
    pop eax
    mov [ebx + 36], eax
    .byte 0x0f, 0x01, 0x43, 0x28
    .byte 0x0f, 0x01, 0x4b, 0x30
    lea ebp, [ebx + 0x60]
    .byte 0x0f, 0x01, 0x45, 0x00
    mov esi, 2
    .byte 0x0f, 0x01, 0x44, 0xf3, 0x70
    .byte 0x0f, 0x01, 0x05, 0x90, 0x00, 0x20, 0x00
    .byte 0x0f, 0x01, 0x44, 0x24, 0xf8
    mov eax, [esp - 8]
    mov [ebx + 0x98], eax
    mov eax, [esp - 4]
    mov [ebx + 0x9c], eax
    smsw eax
    mov [ebx + 0xa0], eax
    mov ecx, 0xaaaa5555
    smsw cx
    mov [ebx + 0xa4], ecx
    smsw word ptr [ebx + 0xa8]
    .byte 0x0e
    mov eax, back1
    push eax
    retf
back1:
    push 0x11111111
    push 0x22222222
    .byte 0x0e
    mov eax, back2
    push eax
    retf 8
back2:
    mov [ebx + 0xac], esp
    mov esi, 0x201000
    movzx ecx, word ptr [ebx + 40]
    inc ecx
    mov edi, esi
    mov esi, [ebx + 42]
    rep movsb
    mov esi, 0x201000
    mov eax, [esi + 8]
    mov [esi + 0x18], eax
    mov eax, [esi + 12]
    mov [esi + 0x1c], eax
    mov word ptr [ebx + 0xb0], 0x1f
    mov dword ptr [ebx + 0xb2], 0x201000
    mov ecx, 3
again:
    sgdt [ebx + 0xc0]
    mov eax, [ebx + 0xc2]
    add [ebx + 0xc8], eax
    lgdt [ebx + 0xb0]
    sgdt [ebx + 0xd0]
    loop again
    push 0x18
    mov eax, far1
    push eax
    retf
far1:
    mov eax, cs
    mov [ebx + 0xe0], eax
    .byte 0x0e
    pop eax
    mov [ebx + 0xe4], eax
    push 0x08
    mov eax, far2
    push eax
    retf
far2:
    mov eax, cs
    mov [ebx + 0xe8], eax
    mov al, 0
    out 0xf4, al
"""


def _machine(tmp_path: Path, text: str, bake: bool) -> tuple[Machine, RunResult]:
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    path = tmp_path / "guest.bin"
    path.write_bytes(bytes(ks.asm(text, 0x100000)[0]))
    m = Machine(
        MachineConfig(16 << 20, inline=bake),
        load_guest(str(path), 16 << 20, "", 0x100000, None),
        lambda _b: None,
    )
    return m, m.run(max_insns=1_000_000)


def _state(m: Machine) -> tuple[list[int], bytes]:
    return m.engine.read_gprs(), m.memory.read(SCRATCH, 0x100)


def test_inline_forms_leave_the_state_the_monitor_does(tmp_path: Path) -> None:
    inline, r1 = _machine(tmp_path, MIX, True)
    monitor, r2 = _machine(tmp_path, MIX, False)
    assert r1.kind == r2.kind == "exit-port"
    assert _state(inline) == _state(monitor)
    assert inline.vcpu.eflags_sys == monitor.vcpu.eflags_sys
    s = monitor.memory.read
    u32 = lambda a: int.from_bytes(s(a, 4), "little")  # noqa: E731
    assert u32(SCRATCH) & 0x3000 == 0 and u32(SCRATCH + 4) & 0x3000 == 0x3000
    assert u32(SCRATCH + 12) & 0x240000 == 0x240000 and u32(SCRATCH + 16) & 0x240200 == 0
    assert u32(SCRATCH + 20) == 0x08 and u32(SCRATCH + 24) == 0xAAAA0010
    assert u32(SCRATCH + 0xA4) >> 16 == 0xAAAA
    assert u32(SCRATCH + 0xC8) == 2 * 0x201000 + u32(SCRATCH + 42)  # old GDTR once, new twice
    assert u32(SCRATCH + 0xD2) == 0x201000
    assert (u32(SCRATCH + 0xE0), u32(SCRATCH + 0xE4), u32(SCRATCH + 0xE8)) == (0x18, 0x18, 0x08)
    # The monitor was asked far less often with the inline forms.
    entries = inline.runloop.stats().callouts
    assert entries < monitor.runloop.stats().callouts // 2
    kinds = inline.cache.callout_counts
    # The two PUSHFDs while the guest's AC and ID are set do too (the real CPU lacks them).
    assert kinds["pushf"] == 2
    for kind in ("cli", "mov_from_seg", "push_seg", "sgdt", "sidt", "smsw"):
        assert kinds[kind] == 0, kind


def test_kernel_style_guest_enters_python_less_than_once_per_1000_instructions() -> None:
    image = load_guest(str(BIN / "kernelish.elf"), 16 << 20, "", None, None)
    out: list[bytes] = []
    m = Machine(MachineConfig(16 << 20, count_insns=True), image, out.append)
    assert m.run(timeout=HANG_GUARD).kind == "exit-port"
    stats = m.runloop.stats()
    assert stats.guest_insns is not None and stats.guest_insns > 3_000_000
    assert stats.python_entries * 1000 < stats.guest_insns
    expected = (
        Path(__file__).resolve().parent.parent / "guests" / "expected" / "kernelish.serial"
    ).read_bytes()
    assert b"".join(out) == expected


# A timer interrupt falls due while IF is clear (after a CLI that ran inline in code built for
# IF set); the instruction that sets IF again must deliver it at once, as on a CPU. The first
# two passes, with IRQ 0 masked, chain the blocks as they are built while nothing waits; in
# the third the unmasking makes the interrupt wait for IF, so that code must be left (at the
# OUT's callout) for code that tells the monitor when IF is set.
PENDING = (
    IDT_SETUP
    + """
    mov al, 0xff
    out 0x21, al
    sti
    nop
    cli
"""
    + pit_rate(100)
    + """
    mov edx, 3
pass:
    cli
    mov al, 0xfe
    cmp edx, 1
    setne cl
    or al, cl
    out 0x21, al
    mov ecx, 3000
spin:
    out 0x80, al
    dec ecx
    jnz spin
    SET_IF
after:
    nop
    nop
    dec edx
    jnz pass
    cli
    mov al, 0
    out 0xf4, al
handler:
    push eax
    mov eax, [esp + 4]
    cmp dword ptr [0x300000], 0
    jne done
    mov [0x300000], eax
done:
    mov al, 0x20
    out 0x20, al
    pop eax
    iretd
"""
)


@pytest.mark.parametrize(("set_if", "offset"), [("push 0x202\n    popfd", 0), ("sti", 1)])
def test_interrupt_waiting_for_if_comes_right_after_popf_or_sti(
    tmp_path: Path, set_if: str, offset: int
) -> None:
    text = PENDING.replace("SET_IF", set_if)
    m, result = _machine(tmp_path, text, True)
    assert result.kind == "exit-port", result
    ks = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
    head = text.split("after:")[0] + "handler:\n"  # `handler` is only an imm32 before it
    after = 0x100000 + len(ks.asm(head, 0x100000)[0])
    # Delivered before the first NOP after POPF; after STI's shadow (one NOP) for STI.
    assert int.from_bytes(m.memory.read(0x300000, 4), "little") == after + offset


# RETF to the current CS selector twice from one site: the first under a flat GDT (it lands
# at `first`), the second after LGDT of a table whose descriptor for that selector has base
# `second - first`: CS is reloaded from the new table, so the same pushed offset now lands at
# `second`. The inline same-CS far RET (and its trained inline cache) must not apply then.
RELOAD = """
    mov edi, 0x200800
    mov ecx, 2
tables:
    mov dword ptr [edi], 0
    mov dword ptr [edi + 4], 0
    mov dword ptr [edi + 8], 0x0000ffff
    mov dword ptr [edi + 12], 0x00cf9b00
    mov dword ptr [edi + 16], 0x0000ffff
    mov dword ptr [edi + 20], 0x00cf9b00
    mov dword ptr [edi + 24], 0x0000ffff
    mov dword ptr [edi + 28], 0x00cf9300
    add edi, 0x100
    dec ecx
    jnz tables
    mov eax, second
    mov edx, first
    sub eax, edx
    mov word ptr [0x200900 + 10], ax
    mov word ptr [0x200900 + 18], ax
    mov word ptr [esp - 6], 31
    mov dword ptr [esp - 4], 0x200800
    lgdt [esp - 6]
    xor ebx, ebx
    jmp again
again:
    mov eax, cs
    push eax
    mov eax, first
    push eax
    .byte 0xcb
first:
    inc ebx
    cmp ebx, 2
    jae wrong
    mov dword ptr [esp - 4], 0x200900
    lgdt [esp - 6]
    jmp again
wrong:
    mov al, 1
    out 0xf4, al
second:
    mov al, 0
    out 0xf4, al
"""


@pytest.mark.parametrize("bake", [True, False], ids=["inline", "monitor"])
def test_far_ret_to_the_current_selector_reloads_a_changed_descriptor(
    tmp_path: Path, bake: bool
) -> None:
    m, result = _machine(tmp_path, RELOAD, bake)
    assert (result.kind, result.status) == ("exit-port", 1), result
    assert m.vcpu.segs["cs"].base > 0 and m.engine.read_gprs()[3] == 1
