"""Data accesses through CS: which instructions make one, and their rewriting for the guest's CS.

The real CS is the monitor's code segment: base 0, limit 4 GiB, readable (bt/engine.py). The
other real segment registers hold shadows of the guest's, so only a CS override needs work: an
access through the guest's CS must reach guest-linear CS.base + offset. Reads are rewritten so
that the offset the real CPU computes is already biased by the guest's CS base (which is in the
block's key): an explicit 32-bit operand gets `disp + base` re-encoded in its ModR/M bytes, a
moffs its offset, a 16-bit `[disp16]` the constant linear address; an implicit operand (XLAT,
the source of MOVS/CMPS/LODS) gets its address register biased by two flag-free LEAs around the
copied instruction (bt/csbias.py undoes the bias when the instruction faults between them). No
register or flag the guest can see changes, and the hot path has no monitor entry. A CS
that is limited or execute-only, and the forms no bias can give, go through the monitor
(`read_plan`). Writes through CS are #GP(0) in protected mode, always (a code segment is
never writable).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from capstone import x86_const as X

from bt.translator.insn import GuestInsn, ImmOp, MemOp, Operand
from bt.translator.modrm import SEG_PREFIX, encodable, modrm

READ_BIT = 0x200  # code-segment type bit R in SegmentCache.flags (descriptor dword 2)
LEA_BIAS = {"esi": b"\x8d\xb6", "ebx": b"\x8d\x9b"}  # lea r, [r + disp32]

_STRING_SRC = {
    X.X86_INS_LODSB: 1,
    X.X86_INS_LODSW: 2,
    X.X86_INS_LODSD: 4,
    X.X86_INS_MOVSB: 1,
    X.X86_INS_MOVSW: 2,
    X.X86_INS_MOVSD: 4,
    X.X86_INS_CMPSB: 1,
    X.X86_INS_CMPSW: 2,
    X.X86_INS_CMPSD: 4,
}
_REPEATS_ALL = frozenset(
    {
        X.X86_INS_LODSB,
        X.X86_INS_LODSW,
        X.X86_INS_LODSD,
        X.X86_INS_MOVSB,
        X.X86_INS_MOVSW,
        X.X86_INS_MOVSD,
    }
)
_MASKMOV = frozenset({X.X86_INS_MASKMOVQ, X.X86_INS_MASKMOVDQU})
# Instructions with a memory operand that access no memory through it.
_NO_ACCESS = frozenset(
    {
        X.X86_INS_LEA,
        X.X86_INS_NOP,
        X.X86_INS_PREFETCH,
        X.X86_INS_PREFETCHW,
        X.X86_INS_PREFETCHNTA,
        X.X86_INS_PREFETCHT0,
        X.X86_INS_PREFETCHT1,
        X.X86_INS_PREFETCHT2,
        X.X86_INS_CLFLUSH,
        X.X86_INS_CLFLUSHOPT,
    }
)
# A memory first operand these only read (Intel order puts the destination first).
_READS_FIRST = frozenset(
    {"cmp", "test", "bt", "ptest", "bound", "arpl", "ucomiss", "ucomisd", "comiss", "comisd"}
)
# One-operand instructions that store to memory (Capstone's access flags miss several).
_STORES_ONE = frozenset(
    {
        "fst",
        "fstp",
        "fist",
        "fistp",
        "fisttp",
        "fbstp",
        "fnstsw",
        "fnstcw",
        "fnstenv",
        "fnsave",
        "fxsave",
        "stmxcsr",
        "cmpxchg8b",
        "pop",
        "inc",
        "dec",
        "not",
        "neg",
        "sete",
        "setne",
        "seta",
        "setae",
        "setb",
        "setbe",
        "setg",
        "setge",
        "setl",
        "setle",
        "seto",
        "setno",
        "setp",
        "setnp",
        "sets",
        "setns",
        "xsave",
        "xsaveopt",
        "fsave",
        "fstenv",
        "fstsw",
        "fstcw",
        "sgdt",
        "sidt",
        "sldt",
        "str",
        "smsw",
    }
)


def segment_of(prefixes: tuple[int, ...]) -> str | None:
    """The segment override the prefix bytes select: the last segment prefix, as on hardware."""
    seg = None
    for p in prefixes:
        seg = SEG_PREFIX.get(p, seg)
    return seg


@dataclass(frozen=True, slots=True)
class CsAccess:
    """What an instruction does through CS: `kind` is "none", "read" or "write"; a read is
    either through `op` (explicit) or through the implicit address register `reg`."""

    kind: str
    op: MemOp | None = None
    reg: str | None = None
    size: int = 0  # bytes per access
    rep: int = 0  # 0: no REP; 1: a REP that runs ECX times; 2: REPE/REPNE (may stop early)


def cs_access(insn: GuestInsn) -> CsAccess | None:
    """The access `insn` makes through CS (None: none through CS by its prefixes)."""
    if segment_of(insn.prefixes) != "cs":
        return None
    iid = insn.insn_id
    if iid in _NO_ACCESS:
        return CsAccess("none")
    rep = 0
    if 0xF3 in insn.prefixes or 0xF2 in insn.prefixes:
        rep = 1 if iid in _REPEATS_ALL else 2
    if iid == X.X86_INS_XLATB:
        return CsAccess("read", reg="ebx" if 0x67 not in insn.prefixes else "bx", size=1)
    if iid in _STRING_SRC:
        return CsAccess(
            "read", reg="esi" if 0x67 not in insn.prefixes else "si", size=_STRING_SRC[iid], rep=rep
        )
    if iid in _MASKMOV:
        return CsAccess("write", reg="edi")
    mems = [(n, op) for n, op in enumerate(insn.operands) if isinstance(op, MemOp)]
    if not mems:
        return None  # an override on an instruction without memory operands (STOS, ...)
    n, op = mems[0]
    if op.seg != "cs":
        return None  # the override applies to no operand (STOS's ES:[EDI])
    name = insn.mnemonic.rsplit(" ", 1)[-1]
    writes = name in _STORES_ONE or (
        n == 0 and len(insn.operands) >= 2 and name not in _READS_FIRST
    )
    return CsAccess("write" if writes else "read", op=op, size=op.size)


def check_insn(insn: GuestInsn, acc: CsAccess, field: int | None = None) -> GuestInsn:
    """The record a checking callout carries for `insn` (bt/callouts/csaccess.py): no bytes,
    so that it resumes, takes an interrupt or is translated again before the instruction;
    as operands the memory read through CS (an implicit one made explicit), then for a patched
    16-bit operand ImmOp(offset of the disp32 after the callout)."""
    a16 = 0x67 in insn.prefixes
    if acc.op is not None:
        op = acc.op
    elif insn.insn_id == X.X86_INS_XLATB:
        op = MemOp("cs", "bx" if a16 else "ebx", "al", 1, 0, 1, 2 if a16 else 4)
    else:
        op = MemOp("cs", "si" if a16 else "esi", None, 1, 0, acc.size, 2 if a16 else 4)
    ops: list[Operand] = [op]
    if field is not None:
        ops.append(ImmOp(field, 4))
    return replace(insn, raw=b"", operands=tuple(ops))


def read_plan(
    insn: GuestInsn, cs_base: int, flat: bool
) -> tuple[str | None, GuestInsn | None, bytes] | None:
    """How the rewriter translates a read through CS: the callout kind to call first (None
    for none) with the record it carries, then the code that follows it. `flat`: the block's
    key says CS is 4 GiB and readable. None when the form is not handled.

    Unless CS is flat, the monitor checks the limit and type first (`cs_check`); its record
    has no bytes, so that going on, an interrupt or a retranslation all happen before the
    instruction, which then runs as it would have. XLAT and strings with 16-bit SI/BX, and a
    REP string a limit may stop in the middle, are performed by the monitor (`cs_string`).
    16-bit operands with registers get their linear address from the monitor (`cs_patch`)."""
    acc = cs_access(insn)
    if acc is None:
        return None
    code = biased(insn, acc, cs_base)
    if acc.reg is not None and (code is None or acc.rep and not flat):
        return "cs_string", insn, b""
    if code is None:
        patch = patched16(insn) if acc.op is not None else None
        if patch is None:
            return None
        return "cs_patch", check_insn(insn, acc, patch[1]), patch[0]
    if flat:
        return None, None, code
    return "cs_check", check_insn(insn, acc), code


def cs_flat(limit: int, flags: int) -> bool:
    """Whether reads through a CS of this limit and type need no check: 4 GiB, readable."""
    return limit == 0xFFFFFFFF and bool(flags & READ_BIT)


def biased(insn: GuestInsn, acc: CsAccess, cs_base: int) -> bytes | None:
    """Code that performs `insn`'s read through CS at guest-linear CS base + offset (None
    when this encoding is not handled)."""
    raw = insn.raw
    if cs_base == 0:
        return raw  # the real CS addresses what the guest's does
    if acc.reg is not None:
        lea = LEA_BIAS.get(acc.reg)
        if lea is None:
            return None  # 16-bit SI/BX: the bias would not wrap at 64 KiB
        up = lea + cs_base.to_bytes(4, "little")
        down = lea + (-cs_base & 0xFFFFFFFF).to_bytes(4, "little")
        return up + raw + down
    op = acc.op
    assert op is not None
    p = len(insn.prefixes)
    opc = raw[p]
    if opc in (0xA0, 0xA1):  # MOV AL/EAX, moffs
        width = 2 if 0x67 in insn.prefixes else 4
        moffs = int.from_bytes(raw[p + 1 : p + 1 + width], "little")
        prefixes = bytes(b for b in insn.prefixes if b != 0x67)
        return prefixes + bytes((opc,)) + ((moffs + cs_base) & 0xFFFFFFFF).to_bytes(4, "little")
    at = _modrm_at(raw, p)
    if at is None:
        return None
    m = raw[at]
    reg = (m >> 3) & 7
    if op.addr_size == 2:
        if m & 0xC7 != 0x06:
            return None  # [bx+si] and friends: the sum wraps at 64 KiB
        # [disp16]: a constant offset, so a constant linear address in 32-bit addressing.
        end = at + 3
        prefixes = bytes(b for b in insn.prefixes if b != 0x67)
        # (Capstone gives a disp16 of 8000h and above sign-extended: the offset is 16 bits.)
        linear = ((op.disp & 0xFFFF) + cs_base) & 0xFFFFFFFF
        new = bytes((reg << 3 | 5,)) + linear.to_bytes(4, "little")
        return prefixes + raw[p:at] + new + raw[end:]
    if not encodable(op):
        return None
    end = _operand_end(raw, at)
    flat = MemOp(op.seg, op.base, op.index, op.scale, op.disp, op.size, 4)
    return raw[:at] + modrm(reg, flat, cs_base) + raw[end:]


def patched16(insn: GuestInsn) -> tuple[bytes, int] | None:
    """For an explicit 16-bit operand with registers ([bx+si+d], ...): the instruction in
    32-bit addressing with an absolute disp32 (zero here) and that field's offset. The monitor
    writes CS base + the 16-bit offset there before each execution (bt/callouts/csaccess.py):
    the offset wraps at 64 KiB, which no flag-free LEA of 32-bit registers reproduces, and the
    guest's registers have no room for a scratch value."""
    raw = insn.raw
    p = len(insn.prefixes)
    at = _modrm_at(raw, p)
    if at is None or 0x67 not in insn.prefixes:
        return None
    m = raw[at]
    mod = m >> 6
    if mod == 3:
        return None
    end = at + 1 + {0: 2 if m & 7 == 6 else 0, 1: 1, 2: 2}[mod]
    prefixes = bytes(b for b in insn.prefixes if b != 0x67)
    head = prefixes + raw[p:at] + bytes(((m >> 3 & 7) << 3 | 5,))
    return head + b"\0\0\0\0" + raw[end:], len(head)


def _modrm_at(raw: bytes, p: int) -> int | None:
    """Offset of the ModR/M byte after the opcode at `p` (None for VEX/EVEX encodings)."""
    if raw[p] in (0xC4, 0xC5, 0x62, 0x8F) and p + 1 < len(raw) and raw[p + 1] >= 0xC0:
        return None  # VEX/EVEX/XOP (not on the reference CPU: #UD either way)
    if raw[p] != 0x0F:
        return p + 1
    if raw[p + 1] in (0x38, 0x3A):
        return p + 3
    return p + 2


def _operand_end(raw: bytes, at: int) -> int:
    """Offset just after the ModR/M, SIB and displacement bytes of 32-bit addressing."""
    m = raw[at]
    mod, rm = m >> 6, m & 7
    end = at + 1
    base = rm
    if rm == 4:
        base = raw[end] & 7
        end += 1
    if mod == 1:
        return end + 1
    if mod == 2 or (mod == 0 and base == 5):
        return end + 4
    return end


def bias_of(code: bytes) -> tuple[str, int, int] | None:
    """For translated code starting with a bias LEA: (register, bias, offset of the copied
    instruction); None otherwise (bt/csbias.py)."""
    for name, lea in LEA_BIAS.items():
        if code[:2] == lea and len(code) >= 6:
            return name, int.from_bytes(code[2:6], "little"), 6
    return None
