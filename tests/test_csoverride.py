"""Data accesses through CS (translator/csaccess.py) and instructions over 15 bytes: the pieces
one by one, and guests/csoverride.asm under bt against QEMU."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import capstone
import keystone
import pytest
from capstone import x86_const as X
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from limits import HANG_GUARD

from bt.translator.assembler import Assembler
from bt.translator.bake import Bake
from bt.translator.csaccess import bias_of, biased, check_insn, cs_access, patched16, segment_of
from bt.translator.insn import GuestInsn, ImmOp, MemOp
from bt.translator.records import Rule
from bt.translator.rewriter import Rewriter
from bt.translator.scanner import Scanner
from bt.translator.sensitive import classify

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected"
BASE = 0x100000
CS_BASE = 0x1000
_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
_CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
_CS.detail = True


class Bytes:
    """A CodeSource over a bytes object placed at BASE."""

    def __init__(self, code: bytes) -> None:
        self.code = code + b"\x90" * 32

    def fetch_code(self, linear: int, size: int) -> bytes:
        off = linear - BASE
        return self.code[off : off + size]


def code_of(text: str) -> bytes:
    return bytes.fromhex(text[4:]) if text.startswith("hex:") else bytes(_KS.asm(text, BASE)[0])


def insn_of(text: str) -> GuestInsn:
    block = Scanner().scan(Bytes(code_of(text)), 0, BASE, max_insns=1)
    return block.insns[0]


def decode(code: bytes) -> list[capstone.CsInsn]:
    return list(_CS.disasm(code, 0))


def test_last_segment_prefix_wins() -> None:
    assert segment_of((0x3E, 0x2E)) == "cs"
    assert segment_of((0x2E, 0x3E)) == "ds"
    assert segment_of((0xF3, 0x2E, 0x66)) == "cs"
    assert segment_of((0x66,)) is None
    assert classify(insn_of("hex:3e2ea100201000")).kind == "cs_access"
    assert classify(insn_of("hex:2e3ea100201000")).rule is Rule.COPY


@pytest.mark.parametrize(
    ("text", "kind", "reg"),
    [
        ("hex:2ed7", "read", "ebx"),  # cs xlatb: Capstone prints no operand
        ("hex:2eac", "read", "esi"),  # cs lodsb
        ("hex:f32ea5", "read", "esi"),  # rep cs movsd
        ("hex:2ea6", "read", "esi"),  # cs cmpsb
        ("hex:2e0ff7c1", "write", "edi"),  # cs maskmovq
        ("hex:2e660ff7c1", "write", "edi"),  # cs maskmovdqu
        ("mov eax, dword ptr cs:[0x2000]", "read", None),
        ("mov dword ptr cs:[ebx], eax", "write", None),
        ("add dword ptr cs:[esp + 4], 5", "write", None),
        ("cmp dword ptr cs:[ebx], eax", "read", None),
        ("fstp dword ptr cs:[ebx]", "write", None),  # Capstone marks it a read
        ("movups xmmword ptr cs:[ebx], xmm0", "write", None),  # so too
        ("cmpxchg8b qword ptr cs:[ebx]", "write", None),  # so too
        ("pop dword ptr cs:[ebx]", "write", None),
        ("push dword ptr cs:[ebx]", "read", None),
        ("sgdt cs:[ebx]", "write", None),
        ("fld dword ptr cs:[ebx]", "read", None),
        ("lea eax, cs:[ebx]", "none", None),
        ("hex:2e0f1f840000000000", "none", None),  # nop word cs:[eax+eax]: compilers' padding
    ],
)
def test_access_through_cs(text: str, kind: str, reg: str | None) -> None:
    acc = cs_access(insn_of(text))
    assert acc is not None and acc.kind == kind and acc.reg == reg


def test_overrides_that_reach_no_cs_access() -> None:
    assert cs_access(insn_of("hex:2eaa")) is None  # cs stosb: ES:[EDI] takes no override
    assert cs_access(insn_of("mov eax, dword ptr [ebx]")) is None
    assert classify(insn_of("hex:2e0f1f840000000000")).rule is Rule.COPY
    assert classify(insn_of("mov dword ptr cs:[ebx], eax")).kind == "gp0"
    assert classify(insn_of("sgdt cs:[ebx]")).kind == "gp0"  # before the SGDT rule


@pytest.mark.parametrize(
    "text",
    [
        "mov eax, dword ptr cs:[0x2000]",  # moffs
        "mov al, byte ptr cs:[0x2000]",
        "mov ebx, dword ptr cs:[0x2000]",  # ModRM disp32
        "mov eax, dword ptr cs:[esi + ecx*4 + 4]",  # SIB disp8 -> disp32
        "add eax, dword ptr cs:[ebx]",  # no displacement
        "movzx eax, word ptr cs:[ebp]",
        "imul eax, dword ptr cs:[esp + 8], 0x12345",  # an immediate after the operand
        "movups xmm0, xmmword ptr cs:[eax + 0x10]",
        "fld qword ptr cs:[edx*8 + 0x4000]",
        "push dword ptr cs:[esp + 4]",
    ],
)
def test_explicit_operand_gets_the_base_in_its_displacement(text: str) -> None:
    insn = insn_of(text)
    acc = cs_access(insn)
    assert acc is not None and acc.op is not None
    got = biased(insn, acc, CS_BASE)
    assert got is not None
    (new,) = decode(got)
    (old,) = decode(insn.raw)
    assert new.mnemonic == old.mnemonic and new.size == len(got)
    mem_new = next(o for o in new.operands if o.type == X.X86_OP_MEM)
    mem_old = next(o for o in old.operands if o.type == X.X86_OP_MEM)
    assert (mem_new.mem.base, mem_new.mem.index, mem_new.mem.scale) == (
        mem_old.mem.base,
        mem_old.mem.index,
        mem_old.mem.scale,
    )
    assert mem_new.mem.disp & 0xFFFFFFFF == (mem_old.mem.disp + CS_BASE) & 0xFFFFFFFF
    assert new.reg_name(mem_new.mem.segment) == "cs"  # the real CS: base 0
    imm_new = [o.imm for o in new.operands if o.type == X.X86_OP_IMM]
    assert imm_new == [o.imm for o in old.operands if o.type == X.X86_OP_IMM]
    assert biased(insn, acc, 0) == insn.raw


def test_16bit_addressing() -> None:
    disp16 = insn_of("hex:2e678b063412")  # mov eax, cs:[0x1234]: a constant offset
    acc = cs_access(disp16)
    assert acc is not None
    got = biased(disp16, acc, CS_BASE)
    assert got is not None
    (new,) = decode(got)
    assert new.op_str == "eax, dword ptr cs:[0x2234]" and 0x67 not in got
    moffs16 = insn_of("hex:2e67a00110")  # mov al, cs:[0x1001]
    acc = cs_access(moffs16)
    assert acc is not None
    got = biased(moffs16, acc, CS_BASE)
    assert got is not None
    assert decode(got)[0].op_str == "al, byte ptr cs:[0x2001]"
    regs = insn_of("hex:2e678b4004")  # mov eax, cs:[bx+si+4]: wraps at 64 KiB
    acc = cs_access(regs)
    assert acc is not None and biased(regs, acc, CS_BASE) is None
    patch = patched16(regs)
    assert patch is not None
    code, field = patch
    assert decode(code)[0].op_str == "eax, dword ptr cs:[0]" and field == 3
    assert code[field : field + 4] == b"\0\0\0\0"
    rec = check_insn(regs, acc, field)
    assert rec.operands == (MemOp("cs", "bx", "si", 1, 4, 4, 2), ImmOp(3, 4))


def test_implicit_operand_register_is_biased_and_restored() -> None:
    insn = insn_of("hex:f32ea4")  # rep cs movsb
    acc = cs_access(insn)
    assert acc is not None
    got = biased(insn, acc, CS_BASE)
    assert got is not None
    texts = [f"{i.mnemonic} {i.op_str}" for i in decode(got)]
    assert texts == [
        "lea esi, [esi + 0x1000]",
        "rep movsb byte ptr es:[edi], byte ptr cs:[esi]",
        "lea esi, [esi - 0x1000]",
    ]
    assert bias_of(got) == ("esi", CS_BASE, 6)
    xlat = insn_of("hex:2ed7")
    acc = cs_access(xlat)
    assert acc is not None
    got = biased(xlat, acc, CS_BASE)
    assert got is not None and bias_of(got) == ("ebx", CS_BASE, 6)
    rec = check_insn(xlat, acc)
    assert rec.operands == (MemOp("cs", "ebx", "al", 1, 0, 1, 4),) and rec.raw == b""
    acc = cs_access(insn)
    assert acc is not None and acc.rep == 1
    assert check_insn(insn, acc).operands == (MemOp("cs", "esi", None, 1, 0, 1, 4),)
    a16 = insn_of("hex:2e67ac")  # cs lodsb with SI: 16-bit, not biased
    acc = cs_access(a16)
    assert acc is not None and biased(a16, acc, CS_BASE) is None


def _bake(flat: bool) -> Bake:
    return Bake(
        flags=True, iopl=0, cpl0=True, trap_if=False, cs_sel=0x18, cs_flat=flat, ss_sel=0x10
    )


def _kinds(text: str, bake: Bake | None) -> list[str]:
    block = Scanner().scan(Bytes(code_of(text)), CS_BASE, BASE - CS_BASE, max_insns=1)
    code = Rewriter(Assembler()).rewrite(block, CS_BASE, bake)
    assert (code.insns[0].sensitivity.rule is Rule.EMULATE) == (not code.callouts)
    return [c.kind for c in code.callouts]


def test_rewriter_checks_only_a_cs_that_is_not_flat() -> None:
    read = "mov eax, dword ptr cs:[ebx + 4]"
    assert _kinds(read, _bake(True)) == []  # no monitor entry on the common path
    assert _kinds(read, _bake(False)) == ["cs_check"]
    assert _kinds(read, None) == ["cs_check"]
    assert _kinds("mov dword ptr cs:[ebx], eax", _bake(True)) == ["gp0"]
    assert _kinds("hex:2e678b4004", _bake(True)) == ["cs_patch"]
    assert _kinds("hex:2e67ac", _bake(True)) == ["cs_string"]  # a16 cs lodsb
    assert _kinds("hex:2e67d7", _bake(True)) == ["cs_string"]  # a16 cs xlatb
    assert _kinds("hex:f32ea5", _bake(True)) == []  # rep cs movsd
    assert _kinds("hex:f32ea5", _bake(False)) == ["cs_string"]  # a limit may stop it
    assert _kinds("hex:2ea5", _bake(False)) == ["cs_check"]


def test_check_callout_comes_before_the_instruction() -> None:
    block = Scanner().scan(Bytes(code_of("hex:2ed7")), CS_BASE, BASE - CS_BASE, max_insns=1)
    code = Rewriter(Assembler()).rewrite(block, CS_BASE, _bake(False))
    (site,) = code.callouts
    assert site.kind == "cs_check" and site.insn.next_eip == site.insn.eip  # resumes before it
    assert bias_of(code.code[site.resume :]) == ("ebx", CS_BASE, 6)


def test_instruction_over_15_bytes_is_gp0() -> None:
    for n, reason in ((10, "limit"), (11, "too-long")):
        code = b"\x3e" * n + bytes.fromhex("a100201000")
        block = Scanner().scan(Bytes(code), 0, BASE, max_insns=1)
        assert block.end_reason == reason
    block = Scanner().scan(Bytes(b"\x66" * 16 + b"\x90"), 0, BASE)
    assert block.end_reason == "too-long" and block.bad_eip == BASE
    code = Rewriter(Assembler()).rewrite(block, 0, None)
    assert [c.kind for c in code.callouts] == ["gp0"]
    block = Scanner().scan(Bytes(b"\x66\x66\x0f\x04"), 0, BASE)  # short and invalid: #UD
    assert block.end_reason == "undecodable"


# Lines where QEMU 7.2 is wrong: its TCG does not check segment types or limits on data
# accesses, so it lets a write through CS, an execute-only read and a read beyond the CS
# limit go through. The Intel SDM (vol. 3, 5.3 limit checking, 5.4 type checking; MOV, XLAT,
# LODS, MOVS, CMPS, MASKMOVQ "#GP(0) if ... non-writable segment / outside the segment
# limit") and Bochs give #GP(0) at the instruction: test name -> (symbol of the instruction,
# CS selector, what the guest prints after the fault). A REP string faults at the element
# that crosses the limit, with ECX, ESI and EDI showing the elements done before it.
INTEL_GP0 = {
    "cs maskmovq": ("based.gp_maskmovq", 0x18, ""),
    "cs maskmovdqu": ("based.gp_maskmovdqu", 0x18, ""),
    "mov [cs:d32],eax": ("based.gp_write", 0x18, ""),
    "pop dword [cs:d32]": ("based.gp_pop", 0x18, ""),
    "mov eax,[cs:0x1ffffe]": ("limited.gp_straddle", 0x20, ""),
    "mov eax,[cs:0x300000]": ("limited.gp_beyond", 0x20, ""),
    "cs lodsd at 0x1ffffe": ("limited.gp_lodsd", 0x20, ""),
    "rep cs movsd across the limit": (
        "limited.gp_repmovs",
        0x20,
        " ecx=0x00000002 esi=0x00200000 edi=0x{dst8:08x}",
    ),
    "repe cs cmpsb across the limit": (
        "limited.gp_repcmps",
        0x20,
        " ecx=0x00000002 esi=0x00200000",
    ),
    "mov eax,[cs:d32] (xonly)": ("xonly.gp_read", 0x28, ""),
    "cs xlatb (xonly)": ("xonly.gp_xlat", 0x28, ""),
}


def _symbols() -> dict[str, int]:
    with open(BIN / "csoverride.elf", "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        assert isinstance(symtab, SymbolTableSection)
        return {s.name: s["st_value"] for s in symtab.iter_symbols()}


def intel_reference() -> str:
    """QEMU's output with the lines above as the Intel SDM gives them."""
    syms = _symbols()
    out: list[str] = []
    section = ""
    for line in (EXPECTED / "csoverride.serial").read_text().splitlines(keepends=True):
        if line.startswith("in CS 0x28"):
            section = " (xonly)"
        name = next(
            (
                n
                for n in INTEL_GP0
                if line.startswith(n.removesuffix(" (xonly)") + " ")
                and n.endswith(" (xonly)") == bool(section)
            ),
            None,
        )
        if name is None:
            out.append(line)
            continue
        sym, cs, after = INTEL_GP0[name]
        eip = syms[sym] - 0x1000
        head = name.removesuffix(" (xonly)")
        assert re.fullmatch(re.escape(head) + r"( \w+=0x[0-9a-f]+)+\n", line), line
        out.append(
            f"{head} fault vec=0x0d err=0x0000 eip=0x{eip:08x} cs=0x{cs:02x}"
            f"{after.format(dst8=syms['dst'] + 8)}\n"
        )
    assert sum(" fault " in x for x in out) == len(INTEL_GP0) + 1  # and QEMU's 16-byte #GP
    return "".join(out)


@pytest.mark.parametrize("options", [[], ["--no-inline"], ["--no-chain"]])
def test_guest_matches_qemu_and_the_sdm(options: list[str]) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bt.cli",
            "run",
            "csoverride.elf",
            "--max-insns",
            "2000000",
            *options,
        ],
        cwd=BIN,
        capture_output=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.stderr == b""
    assert proc.stdout.decode() == intel_reference()
    assert proc.returncode == int((EXPECTED / "csoverride.status").read_text())


def _first_divergence(a: Path, *options: str) -> str:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bt.cli",
            "trace",
            "diff",
            str(a),
            str(EXPECTED / "csoverride.trace.gz"),
            *options,
        ],
        capture_output=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1, proc.stderr
    return proc.stdout.decode().splitlines()[0]


def test_registers_equal_qemus_instruction_by_instruction(tmp_path: Path) -> None:
    """Every guest instruction leaves the registers QEMU's do (its -singlestep trace, made by
    `python tools/qemu_trace.py csoverride --out guests/expected`) up to the first write
    through CS, where the SDM's #GP(0) leaves QEMU's path; and again from the 16-byte
    instruction (both fault there) through the CS-biased copies onto translated code and the
    16-bit forms, up to the read across the CS limit. ESP is left out there: the faulting POP
    left one more dword on the stack than QEMU's completed one."""
    trace = tmp_path / "bt.trace.gz"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bt.cli",
            "run",
            "csoverride.elf",
            "--trace",
            str(trace),
            "--trace-level",
            "insn",
        ],
        cwd=BIN,
        capture_output=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 1, proc.stderr
    syms = _symbols()
    handler = syms["stub13"]  # the #GP entry of the IDT
    first = _first_divergence(trace)
    # B (QEMU) went on after the instruction: cs maskmovq is 4 bytes, mov eax,[cs:moffs] 6.
    assert first.endswith(
        f"control flow: A is at 0x{handler:08x}, B at "
        f"0x{syms['based.gp_maskmovq'] - CS_BASE + 4:08x}"
    ), first
    second = _first_divergence(
        trace, "--start-at", hex(syms["based.t25"] - CS_BASE), "--ignore", "esp"
    )
    assert second.endswith(
        f"control flow: A is at 0x{handler:08x}, B at "
        f"0x{syms['limited.gp_straddle'] - CS_BASE + 6:08x}"
    ), second
