"""Real-mode guests: boot sectors run from 0000:7C00 print what they print under QEMU, and 16-bit
code is translated as its 32-bit form (translator/mode16.py) instruction by instruction."""

from __future__ import annotations

from pathlib import Path

import capstone
import pytest
from unicorn.x86_const import UC_X86_REG_EBX

from bt.machine import Machine, MachineConfig
from bt.realboot import boot_sector_image
from bt.translator.errors import TranslationError
from bt.translator.mode16 import to32

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected"
_CS16 = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_16)
_CS32 = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)


def run_sector(name: str, max_insns: int = 1_000_000) -> tuple[str, int, Machine]:
    """Boot guests/bin/NAME.img as a boot sector; its COM1 output and exit status."""
    out: list[bytes] = []
    image = boot_sector_image((BIN / f"{name}.img").read_bytes())
    m = Machine(MachineConfig(32 << 20), image, out.append)
    result = m.run(max_insns=max_insns)
    assert result.kind == "exit-port", result
    return b"".join(out).decode(errors="replace"), result.status, m


SLOW = {"rmbench", "rmbench7c"}  # a benchmark (18 million instructions): tools/bench.py runs it
BIOS = {"pcibios", "pcibios32"}  # call the firmware: tests/test_pcibios.py boots them with it


@pytest.mark.parametrize(
    "name", sorted(p.stem for p in BIN.glob("*.img") if p.stem not in SLOW | BIOS)
)
def test_boot_sector_matches_qemu(name: str) -> None:
    serial, status, _m = run_sector(name)
    assert serial == (EXPECTED / f"{name}.serial").read_text()
    assert status == int((EXPECTED / f"{name}.status").read_text())


def _text(code: bytes, cs: capstone.Cs) -> tuple[int, str, str]:
    got = next(cs.disasm_lite(code, 0, 1))
    return got[1], got[2], got[3]


@pytest.mark.parametrize(
    ("guest", "want"),
    [
        ("b80100", "66b80100"),  # mov ax, 1: 16-bit operand size needs 66 in 32-bit code
        ("66b801000000", "b801000000"),  # mov eax, 1: 66 goes
        ("8b07", "66678b07"),  # mov ax, [bx]: 16-bit addressing needs 67 too
        ("678b03", "668b03"),  # mov ax, [ebx]: 67 goes
        ("a4", "6667a4"),  # movsb: SI/DI (address size)
        ("f3a5", "6667f3a5"),  # rep movsw
        ("d7", "6667d7"),  # xlatb: BX
        ("660f6fc1", "660f6fc1"),  # movdqa: 66 is its opcode, kept
        ("0f6fc1", "0f6fc1"),  # movq mm: no 66 added
        ("90", "90"),  # nop: no size
        ("98", "6698"),  # cbw
        ("6a12", "666a12"),  # push word 0x12
    ],
)
def test_16_bit_instructions_have_32_bit_forms(guest: str, want: str) -> None:
    raw = bytes.fromhex(guest)
    _size, mnemonic, op_str = _text(raw, _CS16)
    assert to32(raw, mnemonic, op_str).hex() == want


def test_every_decodable_16_bit_instruction_converts_or_is_refused() -> None:
    # Every byte pattern Capstone decodes as 16-bit code either converts to one 32-bit
    # instruction of the same mnemonic (to32 checks it) or is refused by name: 20,000
    # pseudo-random instructions, of which at most a few exotic ones (MPX, TSX) are refused.
    state = 12345
    refused = 0
    total = 0
    for _ in range(20_000):
        state = (state * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        code = state.to_bytes(8, "little")
        got = next(_CS16.disasm_lite(code, 0, 1), None)
        if got is None:
            continue
        total += 1
        size, mnemonic, op_str = got[1], got[2], got[3]
        branch = mnemonic.split()[-1].startswith(("j", "loop", "call", "xbegin"))
        try:
            out = to32(code[:size], mnemonic, op_str, branch=branch)
        except TranslationError:
            refused += 1
            continue
        assert _text(out, _CS32)[0] == len(out)
    assert total > 15_000
    assert refused < total // 1000


def test_code_page_written_often_becomes_self_checking() -> None:
    # guests/smcmixed.asm: its stack shares the code's page. After a few write faults the page
    # is left writable and its blocks check their bytes on entry (translator/selfcheck.py):
    # the rewritten code is caught by those checks, not by faults.
    serial, status, m = run_sector("smcmixed")
    assert serial == (EXPECTED / "smcmixed.serial").read_text()
    assert m.engine.view.mixed_pages == {0x7000}
    assert 0x7000 not in m.engine.view.protected_pages
    reasons = [h.reason for h in m.cache.history]
    assert reasons.count("guest code changed (self-check)") >= 5
    assert m.state.counters.smc < 20  # a fault per push would be hundreds


def test_self_check_prologue_decodes_as_intended() -> None:
    from bt.translator.selfcheck import prologue

    code = prologue([(0x7C10, bytes(range(1, 8)))], 0xDFFFF000)
    text = [f"{i.mnemonic} {i.op_str}" for i in _CS32.disasm(code, 0)]
    assert text == [
        "mov dr0, ecx",
        "mov ecx, dword ptr cs:[0x7c10]",
        "lea ecx, [ecx - 0x4030201]",
        "bound ecx, qword ptr cs:[0xdffff000]",
        "movzx ecx, word ptr cs:[0x7c14]",
        "lea ecx, [ecx - 0x605]",
        "bound ecx, qword ptr cs:[0xdffff000]",
        "movzx ecx, byte ptr cs:[0x7c16]",
        "lea ecx, [ecx - 7]",
        "bound ecx, qword ptr cs:[0xdffff000]",
        "mov ecx, dr0",
    ]


def test_bios_entry_runs_its_service_in_the_monitor() -> None:
    # A ROM entry (UD2 marker, IRET) at F000:0000 for INT 10h: the block there is the `bios`
    # callout (bt/callouts/bios.py), whose service sees the caller's registers and sets CF in
    # the FLAGS image the INT pushed; an unknown vector (INT 11h) is reported and refused.
    from bt.bios.api import BiosCall, Outcome
    from bt.bootimage import MemoryChunk
    from bt.callouts.bios import BiosRuntime

    seen: list[int] = []

    def video(call: BiosCall) -> Outcome:
        seen.append(call.cpu.reg("al"))
        call.cpu.set_reg("bx", 0x1234)
        call.cpu.set_flag("cf", True)
        return Outcome.DONE

    sector = bytes.fromhex(
        "31c08ed08ed8bc007c"  # xor ax, ax; mov ss, ax; mov ds, ax; mov sp, 0x7c00
        "b041cd10"  # mov al, 'A'; int 0x10
        "9c58"  # pushf; pop ax
        "cd11"  # int 0x11 (nothing behind it)
        "88e3"  # mov bl, ah
        "e6f4"  # out 0xf4, al (AL: the flags' low byte, CF = 1)
    )
    image = boot_sector_image(sector)
    image = type(image)(
        **{
            **{f: getattr(image, f) for f in image.__dataclass_fields__},
            "chunks": (
                *image.chunks,
                MemoryChunk(0xF0000, b"\x0f\x0b\xcf\x0f\x0b\xcf"),
                MemoryChunk(0x40, bytes.fromhex("0000 00f0 0300 00f0")),
            ),
        }
    )
    m = Machine(MachineConfig(32 << 20), image, lambda _b: None)
    notes: list[str] = []
    runtime = BiosRuntime({0xF0000: (0x10, video)}, m.io, lambda: 0)
    runtime.entries[0xF0003] = 0x11  # an entry without a service
    runtime.on_unsupported = notes.append
    m.ctx.bios = runtime
    m.maker.services = runtime.entries
    result = m.run(max_insns=10_000)
    assert result.kind == "exit-port"
    assert seen == [0x41]
    assert (result.status >> 1) & 1 == 1  # CF from the service, through IRET and PUSHF
    bx = m.engine.read_reg(UC_X86_REG_EBX) & 0xFFFF
    assert bx == 0x1286  # BX from INT 10h's service, BL = AH = 86h from the refused INT 11h
    assert notes == ["BIOS: INT 11h is not implemented"]


def test_esp_forms_follow_the_stack_size_in_the_key() -> None:
    # The RET inline cache addresses [ESP] (32-bit stack) or moves SP by LEA (16-bit stack):
    # which one follows SS's B bit in the key, whatever the code size.
    from bt.translator.assembler import Assembler
    from bt.translator.bake import Bake
    from bt.translator.rewriter import Rewriter
    from bt.translator.scanner import Scanner

    class Code:
        def fetch_code(self, linear: int, size: int) -> bytes:
            return b"\xc3".ljust(size, b"\x90")

    def ret_site(code16: bool, stack32: bool) -> tuple[int, ...]:
        block = Scanner().scan(Code(), 0, 0, code16=code16)
        bake = Bake(True, 0, True, False, 0, True, 0, stack32=stack32)
        code = Rewriter(Assembler()).rewrite(block, 0, bake, code16=code16)
        return code.callouts[0].ic_fields

    assert ret_site(code16=False, stack32=True)  # xchg ecx, [esp]
    assert not ret_site(code16=False, stack32=False)  # a 16-bit SS: the monitor pops
    assert not ret_site(code16=True, stack32=True)  # RETW on a 32-bit stack: the monitor
    assert ret_site(code16=True, stack32=False)  # pop cx; lea sp, [esp - 2] on a miss
