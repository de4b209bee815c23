"""Differential fuzzing: random guest code under the engine and under a reference, compared.

    python tools/fuzz.py --cases N --seed S

Each case is a short random instruction sequence (ALU, memory, stack, flag, string and
control-flow instructions, plus sensitive ones whose guest-visible result bare Unicorn at
CPL 0 computes exactly as the virtual CPU must: PUSHF/POPF, CLI/STI, MOV/PUSH from segment
registers, SGDT/SIDT/SMSW, LAR/LSL/VERR/VERW), or raw random bytes. The reference is bare
Unicorn at CPL 0 with the same initial state; the two runs' general registers, EFLAGS, data
memory and stack are compared. For raw bytes only the outcome is checked: no host crash,
no traceback, a report. Every failing case is minimised (instructions removed while it still
diverges) and written to tests/fuzz_regressions/ as a guest that the test suite replays.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import keystone
from unicorn import UC_ARCH_X86, UC_HOOK_INSN, UC_MODE_32, Uc, UcError
from unicorn import x86_const as R

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bt.bootimage import BootImage  # noqa: E402
from bt.loader import load_guest  # noqa: E402
from bt.machine import Machine, MachineConfig  # noqa: E402

REGRESSIONS = ROOT / "tests" / "fuzz_regressions"
BASE = 0x100000
DATA = 0x200000  # EBX and EDI point here; ESP at DATA + 0x1F00
MEM = 16 << 20
REGS = ("eax", "ecx", "edx", "esi", "ebp")  # EBX, EDI, ESP stay valid pointers
ALU = ("add", "sub", "and", "or", "xor", "adc", "sbb", "cmp", "test")
TEMPLATES = (
    "{alu} {r1}, {r2}",
    "{alu} {r1}, {imm}",
    "{alu} {r1}, dword ptr [ebx + {off}]",
    "{alu} dword ptr [ebx + {off}], {r1}",
    "mov {r1}, {imm}",
    "mov dword ptr [ebx + {off}], {r1}",
    "mov {r1}, dword ptr [ebx + {off}]",
    "lea {r1}, [{r2} + {r1} * 2 + {imm8}]",
    "inc {r1}",
    "dec {r1}",
    "neg {r1}",
    "not {r1}",
    "shl {r1}, {sh}",
    "sar {r1}, {sh}",
    "rol {r1}, {sh}",
    "imul {r1}, {r2}",
    "bswap {r1}",
    "xchg {r1}, {r2}",
    "push {r1}",
    "pop {r1}",
    "cmovz {r1}, {r2}",
    "setc al",
    "stc",
    "cmc",
    "std",
    "cld",
    "stosb",
    "movsd dword ptr es:[edi], dword ptr [esi]",
    "pushfd",
    # TF single-stepping is not virtualized yet: the popped image keeps TF clear.
    "and dword ptr [esp], 0xfffffeff; popfd",
    "cli",
    "sti",
    "mov {r1}, cs",
    "mov {r1}, ss",
    "push ds",
    "sgdt [ebx + {off}]",
    "sidt [ebx + {off}]",
    "smsw {r1_16}",  # bare Unicorn keeps the upper half of a 32-bit SMSW (DESIGN fact 10)
    "lar {r1}, {sel}",
    "lsl {r1}, {sel}",
    "verr {sel16}",
    "verw {sel16}",
    "jz {fwd}",
    "jc {fwd}",
    "call {fwd}",
)
_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one run left behind."""

    regs: tuple[int, ...]  # eax ecx edx ebx esp ebp esi edi eflags
    data: bytes
    fault: str | None


def render(choices: list[tuple[int, int, int, int]]) -> str:
    """Assembly text for a list of (template, reg1, reg2, number) choices."""
    lines = []
    for n, (t, a, b, v) in enumerate(choices):
        r1, r2 = REGS[a % len(REGS)], REGS[b % len(REGS)]
        sel = (0x08, 0x10, 0x00, 0x18)[v % 4]
        text = TEMPLATES[t % len(TEMPLATES)].format(
            alu=ALU[v % len(ALU)], r1=r1, r2=r2, r1_16=r1[1:], imm=v & 0xFFFFFFFF, imm8=v & 0x7F,
            off=(v % 64) * 4, sh=v % 32, sel=r2, sel16=r2[1:] if len(r2) == 3 else r2,
            fwd=f"l{n + 1}")
        if "{" in TEMPLATES[t % len(TEMPLATES)] and "sel" in TEMPLATES[t % len(TEMPLATES)]:
            text = f"mov {r2}, {sel}; " + text
        if "call" in text:
            text += "; pop " + r1  # keep the stack balanced: the pushed address is a guest EIP
        lines.append(f"l{n}: {text}")
    lines.append(f"l{len(choices)}: nop")
    return "\n".join(lines)


def assemble(text: str) -> bytes:
    """Machine code for the case, ending with a write to the exit port."""
    code, _ = _KS.asm(text + "\nout 0xf4, al", BASE)
    return bytes(code)


def _image(code: bytes, tmp: Path) -> BootImage:
    path = tmp / "case.bin"
    path.write_bytes(code)
    return load_guest(str(path), MEM, "", BASE, None)


_GPRS = (R.UC_X86_REG_EAX, R.UC_X86_REG_ECX, R.UC_X86_REG_EDX, R.UC_X86_REG_EBX,
         R.UC_X86_REG_ESP, R.UC_X86_REG_EBP, R.UC_X86_REG_ESI, R.UC_X86_REG_EDI)
_INIT = (0x11111111, 0x22222222, 0x33333333, DATA, DATA + 0x1F00, 0x55555555, 0x66666666,
         DATA + 0x800)


def run_engine(code: bytes, tmp: Path) -> Outcome:
    """The case under the engine."""
    image = _image(code, tmp)
    image = BootImage(**{**{f: getattr(image, f) for f in image.__slots__}, "gpr": _INIT})
    m = Machine(MachineConfig(MEM), image, lambda _b: None)
    res = m.run(max_insns=100000)
    regs = tuple(m.engine.read_reg(r) for r in _GPRS)
    eflags = m.vcpu.eflags(m.engine.read_reg(R.UC_X86_REG_EFLAGS))
    data = m.memory.read(DATA, 0x2000)
    fault = None if res.kind == "exit-port" else f"{res.kind}: {res.message}"
    return Outcome(regs + (eflags,), data, fault)


def run_reference(code: bytes, tmp: Path) -> Outcome:
    """The case on bare Unicorn at CPL 0 with the same initial state."""
    image = _image(code, tmp)
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, MEM)
    for chunk in image.chunks:
        uc.mem_write(chunk.paddr, chunk.data)
    uc.reg_write(R.UC_X86_REG_GDTR, (0, image.gdtr[0], image.gdtr[1], 0))
    uc.reg_write(R.UC_X86_REG_IDTR, (0, image.idtr[0], image.idtr[1], 0))
    for reg, seg in zip((R.UC_X86_REG_ES, R.UC_X86_REG_CS, R.UC_X86_REG_SS, R.UC_X86_REG_DS,
                         R.UC_X86_REG_FS, R.UC_X86_REG_GS), image.segments, strict=True):
        uc.reg_write(reg, seg.selector)
    for reg, val in zip(_GPRS, _INIT, strict=True):
        uc.reg_write(reg, val)
    uc.reg_write(R.UC_X86_REG_EFLAGS, image.eflags)
    uc.reg_write(R.UC_X86_REG_CR0, image.cr0)
    # Loading the segment registers set accessed bits in the GDT; QEMU's boot leaves the code
    # descriptor's clear, so put the boot bytes back.
    for chunk in image.chunks:
        if chunk.paddr == image.gdtr[0]:
            uc.mem_write(chunk.paddr, chunk.data)
    # As on a PC (and in the engine): memory beyond RAM reads 0 and ignores writes.
    uc.mmio_map(MEM, (1 << 32) - MEM, lambda *_a: 0, None, lambda *_a: None, None)
    done: list[bool] = []

    def on_out(uc: Uc, port: int, size: int, value: int, _ud: object) -> None:
        done.append(True)
        uc.emu_stop()

    uc.hook_add(UC_HOOK_INSN, on_out, None, 1, 0, R.UC_X86_INS_OUT)
    fault = None
    try:
        uc.emu_start(BASE, BASE + len(code) + 1, count=100000)
    except UcError as exc:
        fault = str(exc)
    if not done and fault is None:
        fault = "did not finish"
    regs = tuple(uc.reg_read(r) for r in _GPRS) + (uc.reg_read(R.UC_X86_REG_EFLAGS),)
    return Outcome(regs, bytes(uc.mem_read(DATA, 0x2000)), fault)


def compare(text: str, tmp: Path) -> str | None:
    """None when engine and reference agree on the case, else what differs."""
    code = assemble(text)
    a, b = run_engine(code, tmp), run_reference(code, tmp)
    if (a.fault is None) != (b.fault is None):
        return f"outcome: engine {a.fault!r}, reference {b.fault!r}"
    if a.fault is not None:
        return None
    names = ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eflags")
    for name, x, y in zip(names, a.regs, b.regs, strict=True):
        if x != y:
            return f"{name}: engine 0x{x:08x}, reference 0x{y:08x}"
    if a.data != b.data:
        at = next(i for i in range(len(a.data)) if a.data[i] != b.data[i])
        return f"memory at 0x{DATA + at:08x} differs"
    return None


def raw_bytes_case(blob: bytes, tmp: Path) -> str | None:
    """Random bytes: the engine must end with a result (any), never an escape or traceback."""
    image = _image(blob + b"\xe6\xf4", tmp)
    m = Machine(MachineConfig(MEM), image, lambda _b: None)
    res = m.run(max_insns=20000, timeout=20)
    if res.kind not in ("exit-port", "crash", "limit", "halt"):
        return f"unexpected result {res}"
    return None


def minimise(
    choices: list[tuple[int, int, int, int]], tmp: Path
) -> list[tuple[int, int, int, int]]:
    """The shortest sub-list (removing one instruction at a time) that still diverges."""
    current = list(choices)
    changed = True
    while changed and len(current) > 1:
        changed = False
        for i in range(len(current)):
            trial = current[:i] + current[i + 1 :]
            try:
                still = compare(render(trial), tmp) is not None
            except Exception:  # a removal that breaks assembly is not a smaller case
                still = False
            if still:
                current, changed = trial, True
                break
    return current


def random_choices(rng: random.Random) -> list[tuple[int, int, int, int]]:
    """One case's choices, drawn from `rng`."""
    n = rng.randint(1, 24)
    return [(rng.randrange(len(TEMPLATES)), rng.randrange(8), rng.randrange(8),
             rng.getrandbits(32)) for _ in range(n)]


def main() -> int:
    """Run a campaign and store failures as regression cases."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    import tempfile

    rng = random.Random(args.seed)
    failures = 0
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for i in range(args.cases):
            if rng.random() < 0.2:
                blob = rng.randbytes(rng.randint(1, 64))
                why = raw_bytes_case(blob, tmp)
                text = "db " + ", ".join(str(b) for b in blob)
            else:
                choices = random_choices(rng)
                text = render(choices)
                why = compare(text, tmp)
                if why is not None:
                    text = render(minimise(choices, tmp))
            if why is not None:
                failures += 1
                REGRESSIONS.mkdir(exist_ok=True)
                out = REGRESSIONS / f"seed{args.seed}_case{i}.asm"
                out.write_text(f"; {why}\n{text}\n")
                print(f"case {i}: {why} -> {out}")
    print(f"{args.cases} cases, seed {args.seed}, {failures} divergences, "
          f"{time.monotonic() - start:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
