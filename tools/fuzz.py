"""Differential fuzzing: random guest code under the engine and under a reference, compared.

    python tools/fuzz.py --cases N --seed S

Each case is a short random instruction sequence (ALU, shifts and rotates, multiply and divide,
bit scans and tests, decimal adjusts, memory, stack, flag, string and control-flow instructions,
instructions that fault, plus sensitive ones whose guest-visible result bare Unicorn at CPL 0
computes exactly as the virtual CPU must: PUSHF/POPF, CLI/STI, MOV/PUSH from segment registers,
MOV to DS, SGDT/SIDT/SMSW, LAR/LSL/VERR/VERW, INT3/INTO), or raw random bytes. The reference is
bare Unicorn at CPL 0 with the same initial state (tools/fuzz_reference.py). Compared: the
general registers, EFLAGS, data memory and stack; for a case that faults, the vector, error
code and EIP the guest's handler receives, and the registers at the fault. Flags (and
registers) the Intel SDM leaves undefined after the last instruction that wrote them are masked
(tools/undefined_flags.py); a case is cut before the first instruction that reads undefined
state. For raw bytes the outcome is checked: no host crash or traceback, a report, and the
translation cache, the monitor's page and the real CPU state untouched (tools/isolation_check.py);
a quarter of the raw cases run in virtual-8086 mode (IRETD from a prologue, IOPL 0 or 3).
Every failing case is minimised (instructions removed while it still diverges) and written to
tests/fuzz_regressions/ as a guest that the test suite replays.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import capstone
import keystone
from unicorn import x86_const as R

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from fuzz_reference import (  # noqa: E402
    ERROR_CODE_VECTORS,
    GPR_NAMES,
    GPRS,
    Fault,
    RefOutcome,
    run_reference,
)
from undefined_flags import NAMES  # noqa: E402

from bt.bootimage import BootImage, MemoryChunk  # noqa: E402
from bt.loader import load_guest  # noqa: E402
from bt.machine import Machine, MachineConfig  # noqa: E402

REGRESSIONS = ROOT / "tests" / "fuzz_regressions"
BASE = 0x100000
DATA = 0x200000  # EBX and EDI point here; ESP at DATA + 0x1F00
MEM = 16 << 20
MAX_INSNS = 100_000
IDT = 0x7000  # the cases' IDT: 32 trap gates to stubs that push the vector and exit
STUBS = 0x7400
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
    # Instructions that leave flags (or registers) undefined, and their edge cases.
    "mov {r1}, {small}",  # counts and sources of 0, 1 and 2
    "shr {r1}, cl",
    "shl {r1}, cl",
    "sar {r1}, cl",
    "ror {r1}, cl",
    "rcl {r1}, {sh}",
    "rcr {r1}, cl",
    "shld {r1}, {r2}, {sh}",
    "shrd {r1}, {r2}, cl",
    "mul {r1}",
    "imul {r1}",
    "imul {r1}, {r2}, {imm}",
    "xor edx, edx; div {r1}",
    "cdq; idiv {r1}",
    "bsf {r1}, {r2}",
    "bsr {r1}, {r2}",
    "bt {r1}, {r2}",
    "bts {r1}, {sh}",
    "btc dword ptr [ebx + {off}], {sh}",
    "{adjust}",
    "sahf",
    "lahf",
    "{fault}",
)
# One template slot for all of these, so that most cases run to their end.
FAULTS = (
    "div {r1}",  # #DE when the quotient does not fit
    "int3",
    "into",  # #OF when OF is set
    "ud2",
    "mov {r2}, {badsel}; mov ds, {r2_16}",  # #GP(selector) for most of them
)
# Decimal adjusts read AF, which logic instructions leave undefined: one slot keeps the cases
# cut before them few.
ADJUSTS = ("daa", "das", "aaa", "aas", "aam", "aad")
BAD_SELECTORS = (0x10, 0x08, 0x2B, 0x33, 0x1B, 0x04, 0x00)
_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
_CS = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the engine's run left behind (registers at the fault if there was one)."""

    regs: tuple[int, ...]  # eax ecx edx ebx esp ebp esi edi eflags
    data: bytes
    fault: Fault | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """A compared case: what differs (None: nothing), where it was cut, how it ended."""

    diff: str | None
    cut: str | None
    fault: Fault | None


def render(choices: list[tuple[int, int, int, int]]) -> str:
    """Assembly text for a list of (template, reg1, reg2, number) choices."""
    lines = []
    for n, (t, a, b, v) in enumerate(choices):
        r1, r2 = REGS[a % len(REGS)], REGS[b % len(REGS)]
        sel = (0x08, 0x10, 0x00, 0x18)[v % 4]
        template = TEMPLATES[t % len(TEMPLATES)]
        if template == "{fault}":
            template = FAULTS[(v >> 8) % len(FAULTS)]
        elif template == "{adjust}":
            template = ADJUSTS[(v >> 8) % len(ADJUSTS)]
        text = template.format(
            alu=ALU[v % len(ALU)],
            r1=r1,
            r2=r2,
            r1_16=r1[1:],
            r2_16=r2[1:],
            imm=v & 0xFFFFFFFF,
            imm8=v & 0x7F,
            off=(v % 64) * 4,
            sh=v % 32,
            small=v % 3,
            sel=r2,
            sel16=r2[1:],
            badsel=BAD_SELECTORS[v % len(BAD_SELECTORS)],
            fwd=f"l{n + 1}",
        )
        if "{sel" in template:
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


def line_starts(text: str, code: bytes) -> list[int]:
    """The address of each line's first instruction (lines are `lN: a; b; ...`)."""
    addrs = [i.address for i in _CS.disasm(code, BASE)]
    starts, k = [], 0
    for line in text.splitlines():
        body = line.split(":", 1)[1] if line.split(":", 1)[0].strip().startswith("l") else line
        starts.append(addrs[k] if k < len(addrs) else BASE + len(code))
        k += len([s for s in body.split(";") if s.strip()])
    return starts


def cut_before(text: str, code: bytes, addr: int) -> str:
    """The case without the line holding `addr` and the lines after it."""
    starts = line_starts(text, code)
    j = max(i for i, a in enumerate(starts) if a <= addr)
    return "\n".join(text.splitlines()[:j] + [f"l{j}: nop"])


def case_image(code: bytes, tmp: Path) -> BootImage:
    """The case as a flat guest at 1 MiB, with the fuzzer's registers and IDT."""
    path = tmp / "case.bin"
    path.write_bytes(code)
    image = load_guest(str(path), MEM, "", BASE, None)
    cs = image.segments[1].selector
    idt = b"".join(
        struct.pack("<HHHH", (STUBS + 4 * v) & 0xFFFF, cs, 0x8F00, (STUBS + 4 * v) >> 16)
        for v in range(32)
    )
    stubs = b"".join(bytes((0x6A, v, 0xE6, 0xF4)) for v in range(32))  # push v; out 0xf4, al
    fields = {f: getattr(image, f) for f in image.__slots__}
    fields.update(
        gpr=_INIT,
        idtr=(IDT, len(idt) - 1),
        chunks=(*image.chunks, MemoryChunk(IDT, idt), MemoryChunk(STUBS, stubs)),
    )
    return BootImage(**fields)


_INIT = (
    0x11111111,
    0x22222222,
    0x33333333,
    DATA,
    DATA + 0x1F00,
    0x55555555,
    0x66666666,
    DATA + 0x800,
)


def run_engine(image: BootImage) -> Outcome:
    """The case under the engine; a fault is read back from the frame its handler got."""
    m = Machine(MachineConfig(MEM), image, lambda _b: None)
    res = m.run(max_insns=MAX_INSNS)
    regs = [m.engine.read_reg(r) for r in GPRS]
    eflags = m.vcpu.eflags(m.engine.read_reg(R.UC_X86_REG_EFLAGS))
    data = m.memory.read(DATA, 0x2000)
    if res.kind != "exit-port":
        return Outcome((*regs, eflags), data, None, f"{res.kind}: {res.message}")
    esp = regs[4]
    words = struct.unpack("<5I", m.memory.read(esp, 20))
    if not (STUBS <= res.eip < STUBS + 4 * 32 and words[0] == (res.eip - STUBS) // 4):
        return Outcome((*regs, eflags), data, None, None)
    vector = words[0]
    code = words[1] if vector in ERROR_CODE_VECTORS else None
    eip, _cs, eflags = words[2:5] if code is not None else words[1:4]
    regs[4] = esp + 4 + (4 if code is not None else 0) + 12
    return Outcome((*regs, eflags), data, Fault(vector, code, eip), None)


def differences(a: Outcome, b: RefOutcome) -> str | None:
    """What differs between the engine's and the reference's run of one case."""
    if a.error is not None or b.error is not None:
        return f"outcome: engine {a.error!r}, reference {b.error!r}"
    if a.fault != b.fault:
        return f"fault: engine {a.fault}, reference {b.fault}"
    undefined = b.undefined
    for name, x, y in zip(GPR_NAMES, a.regs, b.regs, strict=False):
        if name not in undefined.regs and x != y:
            return f"{name}: engine 0x{x:08x}, reference 0x{y:08x}"
    mask = ~undefined.flags & 0xFFFFFFFF
    if (a.regs[8] ^ b.regs[8]) & mask:
        masked = "/".join(NAMES[f] for f in NAMES if undefined.flags & f) or "none"
        return (
            f"eflags: engine 0x{a.regs[8]:08x}, reference 0x{b.regs[8]:08x} "
            f"(undefined, masked: {masked})"
        )
    x, y = bytearray(a.data), bytearray(b.data)
    if a.fault is not None:  # the handler's frame is only on the engine's stack
        lo, hi = max(0, a.regs[4] - 20 - DATA), min(len(x), a.regs[4] - DATA)
        x[lo:hi] = y[lo:hi] = bytes(max(0, hi - lo))
    if x != y:
        at = next(i for i in range(len(x)) if x[i] != y[i])
        return f"memory at 0x{DATA + at:08x} differs"
    return None


def check(text: str, tmp: Path) -> Verdict:
    """Run the case under both, cut before any read of undefined state, and compare."""
    cut = None
    while True:
        code = assemble(text)
        image = case_image(code, tmp)
        ref = run_reference(image, _INIT, DATA, 0x2000, MEM, MAX_INSNS)
        if ref.consumer is None:
            break
        cut = ref.consumer[1]
        shorter = cut_before(text, code, ref.consumer[0])
        if len(shorter) >= len(text):
            raise ValueError(f"cannot cut the case before {cut!r}")
        text = shorter
    return Verdict(differences(run_engine(image), ref), cut, ref.fault)


def compare(text: str, tmp: Path) -> str | None:
    """None when engine and reference agree on the case, else what differs."""
    return check(text, tmp).diff


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
    return [
        (rng.randrange(len(TEMPLATES)), rng.randrange(8), rng.randrange(8), rng.getrandbits(32))
        for _ in range(n)
    ]


def main() -> int:
    """Run a campaign and store failures as regression cases."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    import tempfile

    from fuzz_raw import raw_bytes_case, raw_v86_case

    rng = random.Random(args.seed)
    failures = cut = faulted = raw = 0
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for i in range(args.cases):
            pick = rng.random()
            if pick < 0.2:
                blob = rng.randbytes(rng.randint(1, 64))
                v86 = pick < 0.05
                iopl = rng.choice((0, 3))
                why = raw_v86_case(blob, iopl, tmp) if v86 else raw_bytes_case(blob, tmp)
                head = f"; v86 iopl {iopl}\n" if v86 else ""
                text = head + "db " + ", ".join(str(b) for b in blob)
                raw += 1
            else:
                choices = random_choices(rng)
                text = render(choices)
                verdict = check(text, tmp)
                why = verdict.diff
                cut += verdict.cut is not None
                faulted += verdict.fault is not None
                if why is not None:
                    text = render(minimise(choices, tmp))
            if why is not None:
                failures += 1
                REGRESSIONS.mkdir(exist_ok=True)
                out = REGRESSIONS / f"seed{args.seed}_case{i}.asm"
                out.write_text(f"; {why}\n{text}\n")
                print(f"case {i}: {why} -> {out}")
    print(
        f"{args.cases} cases ({raw} raw bytes; of the instruction cases {faulted} ended in a "
        f"fault, {cut} were cut before reading undefined state), seed {args.seed}, "
        f"{failures} divergences, {time.monotonic() - start:.1f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
