"""Unit tests of the scanner, the sensitive-instruction table, the rewriter and the assembler."""

from __future__ import annotations

import keystone
import pytest
from capstone import x86_const as X

from bt.translator.assembler import Assembler
from bt.translator.errors import AssemblyError
from bt.translator.rewriter import EXIT_VECTOR, SLOT_SIZE, Rewriter
from bt.translator.scanner import Scanner
from bt.translator.sensitive import TABLE, Rule, classify

BASE = 0x100000
_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)


class Bytes:
    """A CodeSource over a bytes object placed at BASE."""

    def __init__(self, code: bytes) -> None:
        self.code = code + b"\x90" * 32

    def fetch_code(self, linear: int, size: int) -> bytes:
        off = linear - BASE
        return self.code[off : off + size]


def asm(text: str) -> bytes:
    return bytes(_KS.asm(text, BASE)[0])


def scan(text: str) -> tuple[list[str], str]:
    block = Scanner().scan(Bytes(asm(text)), 0, BASE)
    return [i.text() for i in block.insns], block.end_reason


def kind_of(text: str) -> tuple[Rule, str]:
    # Keystone cannot assemble far indirect jumps; those come as hex.
    code = bytes.fromhex(text[4:]) if text.startswith("hex:") else asm(text)
    block = Scanner().scan(Bytes(code), 0, BASE, max_insns=1)
    s = classify(block.insns[0])
    return s.rule, s.kind


def test_block_ends_at_control_flow() -> None:
    insns, reason = scan("mov eax, 1; add eax, ebx; jne 0x100000; nop")
    assert insns == ["mov eax, 1", "add eax, ebx", "jne 0x100000"]
    assert reason == "branch"


def test_block_ends_after_exit_callout() -> None:
    insns, reason = scan("mov eax, 1; hlt; nop")
    assert insns[-1] == "hlt" and reason == "callout-exit"


def test_block_length_limit() -> None:
    insns, reason = scan("nop; " * 100)
    assert len(insns) == 64 and reason == "limit"


@pytest.mark.parametrize(
    ("text", "rule", "kind"),
    [
        ("mov eax, ebx", Rule.COPY, "copy"),
        ("cli", Rule.INLINE, "cli"),
        ("pushfd", Rule.INLINE, "pushf"),
        ("popfd", Rule.INLINE, "popf"),
        ("sgdt [eax]", Rule.INLINE, "sgdt"),
        ("smsw eax", Rule.INLINE, "smsw"),
        ("mov eax, cr0", Rule.INLINE, "mov_from_cr"),
        ("mov cr0, eax", Rule.EXIT, "mov_to_cr"),
        ("mov ax, cs", Rule.INLINE, "mov_from_seg"),
        ("mov ds, ax", Rule.INLINE, "mov_to_seg"),
        ("push cs", Rule.INLINE, "push_seg"),
        ("pop ds", Rule.INLINE, "pop_seg"),
        ("ljmp 8:0x100000", Rule.EXIT, "far_jmp"),
        ("hex:ff28", Rule.EXIT, "far_jmp"),
        ("hex:ff18", Rule.EXIT, "far_call"),
        ("jmp eax", Rule.INDIRECT, "jmp_indirect"),
        ("call dword ptr [eax]", Rule.INDIRECT, "call_indirect"),
        ("ret", Rule.INDIRECT, "ret"),
        ("retf", Rule.EXIT, "far_ret"),
        ("iretd", Rule.EXIT, "iret"),
        ("int 0x30", Rule.EXIT, "int"),
        ("in al, dx", Rule.INLINE, "in"),
        ("rep outsb", Rule.INLINE, "outs"),
        ("lar eax, ebx", Rule.INLINE, "lar"),
        ("cpuid", Rule.INLINE, "cpuid"),
        ("jmp 0x100010", Rule.BRANCH, "jmp"),
        ("loop 0x100000", Rule.BRANCH, "loop"),
    ],
)
def test_classification(text: str, rule: Rule, kind: str) -> None:
    assert kind_of(text) == (rule, kind)


def test_every_entry_has_a_reason() -> None:
    for iid, sens in TABLE.items():
        assert sens.reason, iid
    assert X.X86_INS_POPFD in TABLE


def test_rewrite_copies_harmless_and_calls_out_sensitive() -> None:
    block = Scanner().scan(Bytes(asm("mov eax, 1; cli; add eax, ebx; jmp 0x100000")), 0, BASE)
    out = Rewriter(Assembler()).rewrite(block, 0)
    assert out.code.startswith(asm("mov eax, 1"))
    assert [c.kind for c in out.callouts] == ["cli"]
    assert [(e.target, e.edge) for e in out.exits] == [(BASE, "jump")]
    slot = out.exits[0].offset
    assert out.code[slot : slot + SLOT_SIZE] == bytes((0xCD, EXIT_VECTOR, 0x90, 0x90, 0x90))


def test_rewrite_conditional_branch_has_two_slots() -> None:
    block = Scanner().scan(Bytes(asm("cmp eax, 1; je 0x100100")), 0, BASE)
    out = Rewriter(Assembler()).rewrite(block, 0)
    edges = {e.edge: e.target for e in out.exits}
    assert edges == {"fallthrough": block.insns[-1].next_eip, "taken": 0x100100}
    jcc = out.insns[-1].offset
    # JE rel32 over the fallthrough slot to the taken one; chaining re-aims the rel32 too.
    assert out.code[jcc : jcc + 6] == bytes((0x0F, 0x84, SLOT_SIZE, 0, 0, 0))
    taken = next(e for e in out.exits if e.edge == "taken")
    assert taken.branch == jcc + 2 and taken.offset == jcc + 6 + SLOT_SIZE


def test_rewrite_call_pushes_guest_return_address() -> None:
    block = Scanner().scan(Bytes(asm("call 0x100200")), 0, BASE)
    out = Rewriter(Assembler()).rewrite(block, 0)
    ret = block.insns[0].next_eip
    assert out.code[:5] == b"\x68" + ret.to_bytes(4, "little")


def test_assembler_templates_are_checked() -> None:
    a = Assembler()
    t = a.template("jmp", "jmp {0}")
    code = t.emit(0x2000, address=0x1000)
    assert code == b"\xe9" + (0x2000 - 0x1005).to_bytes(4, "little")
    with pytest.raises(AssemblyError):
        a.assemble("not_an_instruction eax")


def test_known_encodings_are_keystones_and_spare_loading_it() -> None:
    from bt.translator.assembler import KNOWN_ENCODINGS, Assembler

    asm = Assembler()
    for text, code in KNOWN_ENCODINGS.items():
        assert asm.keystone(text) == code, text
    fresh = Assembler()
    for text, code in KNOWN_ENCODINGS.items():
        assert fresh.assemble(text) == code
    assert fresh.keystone_calls == 0  # the start-up sequences never load Keystone
    assert fresh.assemble("nop; ret") == bytes((0x90, 0xC3)) and fresh.keystone_calls == 1
