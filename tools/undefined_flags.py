"""The Intel SDM's architecturally undefined flags (and registers), per instruction and operands.

The differential fuzzer (tools/fuzz.py) compares two x86 implementations; where the SDM leaves a
flag undefined they may differ and both be right, so a comparison must mask those flags, and a
case whose later instructions read an undefined flag or register compares nothing beyond that
point. `UndefinedState.step` is called with each instruction before it executes (with a way to
read its operands' values) and tracks, per flag, whether the last instruction that wrote it left
it undefined.

Sources: Intel SDM vol. 2 (each instruction's "Flags Affected"); the same table is in README.md
("Undefined flags").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from capstone import CsInsn
from capstone import x86_const as X

CF, PF, AF, ZF, SF, OF = 0x1, 0x4, 0x10, 0x40, 0x80, 0x800
ARITH = CF | PF | AF | ZF | SF | OF
NAMES = {CF: "CF", PF: "PF", AF: "AF", ZF: "ZF", SF: "SF", OF: "OF"}

OperandValue = Callable[[int], int]  # operand index -> its value before the instruction


@dataclass(frozen=True, slots=True)
class FlagEffect:
    """What one instruction does to the arithmetic flags: which it writes, and which of those
    the SDM leaves undefined; `dest_undefined` when its destination register is undefined too."""

    written: int
    undefined: int = 0
    dest_undefined: bool = False


def _width(insn: CsInsn) -> int:
    return int(insn.operands[0].size) * 8


def _count(insn: CsInsn, value: OperandValue) -> int:
    """The shift or rotate count as the CPU masks it (to 5 bits for every operand size)."""
    return (value(len(insn.operands) - 1) if len(insn.operands) > 1 else 1) & 0x1F


def _logic(_i: CsInsn, _v: OperandValue) -> FlagEffect:
    return FlagEffect(ARITH, AF)  # AND OR XOR TEST: OF, CF cleared; AF undefined


def _shift(insn: CsInsn, value: OperandValue) -> FlagEffect:
    c = _count(insn, value)
    if c == 0:
        return FlagEffect(0)  # a zero count affects no flag
    undefined = AF | (OF if c != 1 else 0)
    if insn.mnemonic in ("shl", "sal", "shr") and c >= _width(insn):
        undefined |= CF  # SHL/SHR: CF undefined when count >= operand size
    return FlagEffect(ARITH, undefined)


def _rotate(insn: CsInsn, value: OperandValue) -> FlagEffect:
    c = _count(insn, value)
    if c == 0:
        return FlagEffect(0)
    return FlagEffect(CF | OF, OF if c != 1 else 0)  # OF defined for 1-bit rotates only


def _double_shift(insn: CsInsn, value: OperandValue) -> FlagEffect:
    c = _count(insn, value)
    if c == 0:
        return FlagEffect(0)
    if c > _width(insn):  # only a 16-bit operand can get there: result and flags undefined
        return FlagEffect(ARITH, ARITH, dest_undefined=True)
    return FlagEffect(ARITH, AF | (OF if c != 1 else 0))


def _multiply(_i: CsInsn, _v: OperandValue) -> FlagEffect:
    return FlagEffect(ARITH, SF | ZF | AF | PF)  # MUL, IMUL: only CF and OF are defined


def _divide(_i: CsInsn, _v: OperandValue) -> FlagEffect:
    return FlagEffect(ARITH, ARITH)  # DIV, IDIV: every arithmetic flag undefined


def _bit_scan(insn: CsInsn, value: OperandValue) -> FlagEffect:
    # BSF, BSR: ZF says whether the source was 0; then the destination is undefined too.
    return FlagEffect(ARITH, CF | OF | SF | AF | PF, dest_undefined=value(1) == 0)


def _bit_test(_i: CsInsn, _v: OperandValue) -> FlagEffect:
    return FlagEffect(CF | OF | SF | AF | PF, OF | SF | AF | PF)  # BT*: ZF unaffected


def _decimal(_i: CsInsn, _v: OperandValue) -> FlagEffect:
    return FlagEffect(ARITH, OF)  # DAA, DAS


def _ascii_adjust(_i: CsInsn, _v: OperandValue) -> FlagEffect:
    return FlagEffect(ARITH, OF | SF | ZF | PF)  # AAA, AAS: AF and CF defined


def _ascii_multiply(_i: CsInsn, _v: OperandValue) -> FlagEffect:
    return FlagEffect(ARITH, OF | AF | CF)  # AAM, AAD: SF, ZF, PF defined


RULES: dict[str, Callable[[CsInsn, OperandValue], FlagEffect]] = {
    **dict.fromkeys(("and", "or", "xor", "test"), _logic),
    **dict.fromkeys(("shl", "sal", "shr", "sar"), _shift),
    **dict.fromkeys(("rol", "ror", "rcl", "rcr"), _rotate),
    **dict.fromkeys(("shld", "shrd"), _double_shift),
    **dict.fromkeys(("mul", "imul"), _multiply),
    **dict.fromkeys(("div", "idiv"), _divide),
    **dict.fromkeys(("bsf", "bsr"), _bit_scan),
    **dict.fromkeys(("bt", "bts", "btr", "btc"), _bit_test),
    **dict.fromkeys(("daa", "das"), _decimal),
    **dict.fromkeys(("aaa", "aas"), _ascii_adjust),
    **dict.fromkeys(("aam", "aad"), _ascii_multiply),
}

_CONDITION = {
    "o": OF,
    "no": OF,
    "b": CF,
    "nae": CF,
    "c": CF,
    "ae": CF,
    "nb": CF,
    "nc": CF,
    "e": ZF,
    "z": ZF,
    "ne": ZF,
    "nz": ZF,
    "be": CF | ZF,
    "na": CF | ZF,
    "a": CF | ZF,
    "nbe": CF | ZF,
    "s": SF,
    "ns": SF,
    "p": PF,
    "pe": PF,
    "np": PF,
    "po": PF,
    "l": SF | OF,
    "nge": SF | OF,
    "ge": SF | OF,
    "nl": SF | OF,
    "le": ZF | SF | OF,
    "ng": ZF | SF | OF,
    "g": ZF | SF | OF,
    "nle": ZF | SF | OF,
}
_READS = {
    "pushf": ARITH,
    "pushfd": ARITH,
    "lahf": SF | ZF | AF | PF | CF,
    "into": OF,
    "adc": CF,
    "sbb": CF,
    "rcl": CF,
    "rcr": CF,
    "cmc": CF,
    "salc": CF,
    "daa": AF | CF,
    "das": AF | CF,
    "aaa": AF,
    "aas": AF,
    "loope": ZF,
    "loopne": ZF,
    "loopz": ZF,
    "loopnz": ZF,
}
_CS_WRITES = {  # Capstone's per-instruction flag lists, for instructions outside RULES
    CF: ("MODIFY_CF", "RESET_CF", "SET_CF", "UNDEFINED_CF", "PRIOR_CF"),
    PF: ("MODIFY_PF", "RESET_PF", "SET_PF", "UNDEFINED_PF", "PRIOR_PF"),
    AF: ("MODIFY_AF", "RESET_AF", "SET_AF", "UNDEFINED_AF", "PRIOR_AF"),
    ZF: ("MODIFY_ZF", "RESET_ZF", "SET_ZF", "UNDEFINED_ZF", "PRIOR_ZF"),
    SF: ("MODIFY_SF", "RESET_SF", "SET_SF", "UNDEFINED_SF", "PRIOR_SF"),
    OF: ("MODIFY_OF", "RESET_OF", "SET_OF", "UNDEFINED_OF", "PRIOR_OF"),
}
_CS_UNDEFINED = {flag: names[3] for flag, names in _CS_WRITES.items()}


def _cs_bits(insn: CsInsn, names: tuple[str, ...]) -> bool:
    return any(insn.eflags & getattr(X, f"X86_EFLAGS_{n}", 0) for n in names)


def effect(insn: CsInsn, value: OperandValue) -> FlagEffect:
    """The instruction's effect on the arithmetic flags, given its operands' values."""
    rule = RULES.get(insn.mnemonic)
    if rule is not None:
        return rule(insn, value)
    written = sum(flag for flag, names in _CS_WRITES.items() if _cs_bits(insn, names))
    if any(_cs_bits(insn, (name,)) for name in _CS_UNDEFINED.values()):
        raise ValueError(f"no undefined-flags rule for {insn.mnemonic} (Capstone lists one)")
    return FlagEffect(written)


def flags_read(insn: CsInsn) -> int:
    """The arithmetic flags the instruction's result depends on."""
    m = insn.mnemonic
    if m.startswith(("j", "set", "cmov")) and m not in ("jmp", "jecxz", "jcxz"):
        if (
            m.startswith("j")
            and insn.operands[0].type == X.X86_OP_IMM
            and insn.operands[0].imm == insn.address + insn.size
        ):
            return 0  # a branch to the next instruction goes there either way
        cond = m[1:] if m.startswith("j") else m[3:] if m.startswith("set") else m[4:]
        return _CONDITION[cond]
    return _READS.get(m, 0)


_PARENT = {
    **{r: "e" + r for r in ("ax", "bx", "cx", "dx", "si", "di", "bp", "sp")},
    **{r + s: "e" + r + "x" for r in "abcd" for s in "lh"},
}


def _parent(name: str) -> str:
    return _PARENT.get(name, name)


@dataclass(slots=True)
class UndefinedState:
    """Which arithmetic flags and general registers are undefined at this point of a run."""

    flags: int = 0
    regs: set[str] = field(default_factory=set)

    def step(self, insn: CsInsn, value: OperandValue) -> str | None:
        """Account for `insn` (about to run). Returns why, if it reads undefined state: the
        result of the run from there on is undefined, and nothing after it can be compared."""
        read = flags_read(insn) & self.flags
        if read:
            names = "/".join(NAMES[f] for f in NAMES if read & f)
            return f"{insn.mnemonic} {insn.op_str} reads undefined {names}"
        regs_read, regs_written = insn.regs_access()
        used = {_parent(insn.reg_name(r)) for r in regs_read} & self.regs
        if used:
            return f"{insn.mnemonic} {insn.op_str} reads undefined {', '.join(sorted(used))}"
        eff = effect(insn, value)
        self.flags = (self.flags & ~eff.written) | eff.undefined
        for r in regs_written:
            name = insn.reg_name(r)
            if name in self.regs:  # a full 32-bit write defines the register again
                self.regs.discard(name)
        if eff.dest_undefined:
            self.regs.add(_parent(insn.reg_name(insn.operands[0].reg)))
        return None
