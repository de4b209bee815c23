"""The one table deciding which guest instructions are sensitive, how each is rewritten, and why.

Everything absent from the table is copied into the translation cache unchanged ("ident"): it
computes only on general registers, arithmetic flags and guest memory reached through the
guest's own segments, which the monitor maps exactly as the guest defines them.
"""

from __future__ import annotations

import capstone
from capstone import x86_const as X

from bt.translator.csaccess import cs_access
from bt.translator.insn import GuestInsn, RegOp
from bt.translator.records import Rule, Sensitivity

_PRIV = "privileged: traps at CPL>0, the monitor emulates it against the virtual CPU"
_RI = "Robin & Irvine: runs at CPL>0 without trapping but shows or changes real state"
_CF = "control flow: translated code lives at other addresses than the guest's code"
_SEP = "a far transfer through the virtual SYSENTER MSRs (flat CS and SS, a new CPL)"
_FPU_PTRS = (
    "stores the last x87 instruction's address and selectors: the real ones are a "
    "translation-cache address and the monitor's selectors"
)
# Callouts that go with a copy of the instruction instead of replacing it: the monitor runs
# before the copy (the guest resumes at the instruction itself) or after it.
CALLOUT_THEN_COPY = frozenset({"fpu_env"})
COPY_THEN_CALLOUT = frozenset({"fxsave"})


def _s(rule: Rule, kind: str, reason: str) -> Sensitivity:
    return Sensitivity(rule, kind, reason)


# Instruction id -> rule. Instructions that need their operands inspected (MOV, PUSH, POP,
# JMP, CALL with far or segment forms) are handled in classify().
TABLE: dict[int, Sensitivity] = {
    X.X86_INS_CLI: _s(Rule.INLINE, "cli", _PRIV + " (IF is virtual)"),
    X.X86_INS_STI: _s(Rule.INLINE, "sti", _PRIV + " (IF is virtual)"),
    X.X86_INS_HLT: _s(Rule.EXIT, "hlt", _PRIV + "; the vCPU waits for an interrupt"),
    X.X86_INS_IN: _s(Rule.INLINE, "in", _PRIV + " (IOPL); ports are virtual devices on the bus"),
    X.X86_INS_OUT: _s(Rule.INLINE, "out", _PRIV + " (IOPL); ports are virtual devices on the bus"),
    X.X86_INS_INSB: _s(Rule.INLINE, "ins", _PRIV + " (IOPL); string input from a virtual port"),
    X.X86_INS_INSW: _s(Rule.INLINE, "ins", _PRIV + " (IOPL); string input from a virtual port"),
    X.X86_INS_INSD: _s(Rule.INLINE, "ins", _PRIV + " (IOPL); string input from a virtual port"),
    X.X86_INS_OUTSB: _s(Rule.INLINE, "outs", _PRIV + " (IOPL); string output to a virtual port"),
    X.X86_INS_OUTSW: _s(Rule.INLINE, "outs", _PRIV + " (IOPL); string output to a virtual port"),
    X.X86_INS_OUTSD: _s(Rule.INLINE, "outs", _PRIV + " (IOPL); string output to a virtual port"),
    X.X86_INS_LGDT: _s(Rule.INLINE, "lgdt", _PRIV + "; the real GDT belongs to the monitor"),
    X.X86_INS_LIDT: _s(Rule.INLINE, "lidt", _PRIV + "; the monitor delivers interrupts"),
    X.X86_INS_LLDT: _s(Rule.INLINE, "lldt", _PRIV + "; the LDT register is virtual"),
    X.X86_INS_LTR: _s(Rule.INLINE, "ltr", _PRIV + "; the task register is virtual"),
    X.X86_INS_LMSW: _s(Rule.INLINE, "lmsw", _PRIV + "; CR0 is virtual"),
    X.X86_INS_INVLPG: _s(Rule.INLINE, "invlpg", _PRIV + "; guest TLB state is virtual"),
    X.X86_INS_INVD: _s(Rule.INLINE, "cache", _PRIV + "; caches are not modelled"),
    X.X86_INS_WBINVD: _s(Rule.INLINE, "cache", _PRIV + "; caches are not modelled"),
    X.X86_INS_RDMSR: _s(Rule.INLINE, "rdmsr", _PRIV + "; MSRs are virtual"),
    X.X86_INS_WRMSR: _s(Rule.INLINE, "wrmsr", _PRIV + "; MSRs are virtual"),
    X.X86_INS_CLTS: _s(Rule.INLINE, "clts", _PRIV + "; CR0.TS is virtual"),
    X.X86_INS_RDPMC: _s(Rule.INLINE, "rdpmc", _PRIV + "; counters are virtual"),
    X.X86_INS_STAC: _s(Rule.INLINE, "stac", _PRIV + "; EFLAGS.AC is virtual"),
    X.X86_INS_CLAC: _s(Rule.INLINE, "clac", _PRIV + "; EFLAGS.AC is virtual"),
    X.X86_INS_XSETBV: _s(Rule.INLINE, "ud", _PRIV + "; no CPU model bt offers has XSAVE: #UD"),
    X.X86_INS_MONITOR: _s(Rule.INLINE, "monitor", _PRIV + "; #UD on models without MONITOR"),
    X.X86_INS_MWAIT: _s(Rule.EXIT, "mwait", _PRIV + "; waits as HLT does, where the model has it"),
    X.X86_INS_RSM: _s(Rule.INLINE, "ud", "outside SMM: #UD"),
    X.X86_INS_SWAPGS: _s(Rule.INLINE, "ud", "64-bit only: #UD in 32-bit mode"),
    X.X86_INS_SYSCALL: _s(Rule.INLINE, "ud", "Intel CPU models, 32-bit mode: #UD (measured)"),
    X.X86_INS_SYSRET: _s(Rule.INLINE, "ud", "Intel CPU models, 32-bit mode: #UD"),
    X.X86_INS_INVPCID: _s(Rule.INLINE, "ud", "no CPU model bt offers has INVPCID: #UD"),
    X.X86_INS_SGDT: _s(Rule.INLINE, "sgdt", _RI + " (shows the real GDTR)"),
    X.X86_INS_SIDT: _s(Rule.INLINE, "sidt", _RI + " (shows the real IDTR)"),
    X.X86_INS_SLDT: _s(Rule.INLINE, "sldt", _RI + " (shows the real LDTR)"),
    X.X86_INS_STR: _s(Rule.INLINE, "str", _RI + " (shows the real TR)"),
    X.X86_INS_SMSW: _s(Rule.INLINE, "smsw", _RI + " (shows the real CR0)"),
    X.X86_INS_PUSHF: _s(Rule.INLINE, "pushf", _RI + " (shows real IF and IOPL)"),
    X.X86_INS_PUSHFD: _s(Rule.INLINE, "pushf", _RI + " (shows real IF and IOPL)"),
    X.X86_INS_POPF: _s(Rule.INLINE, "popf", _RI + " (silently keeps real IF and IOPL)"),
    X.X86_INS_POPFD: _s(Rule.INLINE, "popf", _RI + " (silently keeps real IF and IOPL)"),
    X.X86_INS_LAR: _s(Rule.INLINE, "lar", _RI + " (reads the real descriptor tables)"),
    X.X86_INS_LSL: _s(Rule.INLINE, "lsl", _RI + " (reads the real descriptor tables)"),
    X.X86_INS_VERR: _s(Rule.INLINE, "verr", _RI + " (reads the real descriptor tables)"),
    X.X86_INS_VERW: _s(Rule.INLINE, "verw", _RI + " (reads the real descriptor tables)"),
    X.X86_INS_LDS: _s(Rule.INLINE, "load_far_ptr", _RI + " (loads a segment register)"),
    X.X86_INS_LES: _s(Rule.INLINE, "load_far_ptr", _RI + " (loads a segment register)"),
    X.X86_INS_LFS: _s(Rule.INLINE, "load_far_ptr", _RI + " (loads a segment register)"),
    X.X86_INS_LGS: _s(Rule.INLINE, "load_far_ptr", _RI + " (loads a segment register)"),
    X.X86_INS_LSS: _s(Rule.INLINE, "load_far_ptr", _RI + " (loads SS)"),
    X.X86_INS_LJMP: _s(Rule.EXIT, "far_jmp", _RI + " (loads CS, sets the real CPL)"),
    X.X86_INS_LCALL: _s(Rule.EXIT, "far_call", _RI + " (loads CS, pushes the real CS)"),
    X.X86_INS_RETF: _s(Rule.EXIT, "far_ret", _RI + " (loads CS from the stack)"),
    X.X86_INS_IRET: _s(Rule.EXIT, "iret", _RI + " (loads CS, EFLAGS, IF, IOPL)"),
    X.X86_INS_IRETD: _s(Rule.EXIT, "iret", _RI + " (loads CS, EFLAGS, IF, IOPL)"),
    X.X86_INS_INT: _s(Rule.EXIT, "int", _RI + " (delivered through the guest's virtual IDT)"),
    X.X86_INS_INT3: _s(Rule.EXIT, "int3", _RI + " (delivered through the guest's virtual IDT)"),
    X.X86_INS_INTO: _s(Rule.EXIT, "into", _RI + " (delivered through the guest's virtual IDT)"),
    X.X86_INS_INT1: _s(Rule.EXIT, "int1", _RI + " (delivered through the guest's virtual IDT)"),
    X.X86_INS_BOUND: _s(Rule.INLINE, "bound", "raises #BR, delivered through the virtual IDT"),
    X.X86_INS_UD2: _s(Rule.EXIT, "ud", "raises #UD, delivered through the virtual IDT"),
    X.X86_INS_UD0: _s(Rule.EXIT, "ud", "raises #UD, delivered through the virtual IDT"),
    X.X86_INS_UD1: _s(Rule.EXIT, "ud", "raises #UD, delivered through the virtual IDT"),
    X.X86_INS_CPUID: _s(Rule.INLINE, "cpuid", "virtualized: the guest sees the CPU model's leaves"),
    X.X86_INS_RDTSC: _s(Rule.INLINE, "rdtsc", "virtualized: deterministic virtual time"),
    X.X86_INS_RDTSCP: _s(Rule.INLINE, "ud", "no CPU model bt offers has RDTSCP: #UD"),
    X.X86_INS_SYSENTER: _s(Rule.EXIT, "sysenter", _SEP + ": to CPL 0 at IA32_SYSENTER_EIP"),
    X.X86_INS_SYSEXIT: _s(Rule.EXIT, "sysexit", _SEP + ": to CPL 3 at EDX, from CPL 0 only"),
    X.X86_INS_FNSTENV: _s(Rule.INLINE, "fpu_env", _FPU_PTRS + "; the callout runs before it"),
    X.X86_INS_FNSAVE: _s(Rule.INLINE, "fpu_env", _FPU_PTRS + "; the callout runs before it"),
    X.X86_INS_FXSAVE: _s(Rule.INLINE, "fxsave", _FPU_PTRS + "; the callout runs after it"),
    X.X86_INS_RET: _s(Rule.INDIRECT, "ret", _CF + "; the return address is a guest address"),
    X.X86_INS_JMP: _s(Rule.BRANCH, "jmp", _CF),
    X.X86_INS_CALL: _s(Rule.BRANCH, "call", _CF + "; pushes the guest return address"),
    X.X86_INS_LOOP: _s(Rule.BRANCH, "loop", _CF),
    X.X86_INS_LOOPE: _s(Rule.BRANCH, "loop", _CF),
    X.X86_INS_LOOPNE: _s(Rule.BRANCH, "loop", _CF),
    X.X86_INS_JECXZ: _s(Rule.BRANCH, "loop", _CF),
    X.X86_INS_JCXZ: _s(Rule.BRANCH, "loop", _CF),
}

_JCC = (
    "JAE",
    "JA",
    "JBE",
    "JB",
    "JE",
    "JGE",
    "JG",
    "JLE",
    "JL",
    "JNE",
    "JNO",
    "JNP",
    "JNS",
    "JO",
    "JP",
    "JS",
)
JCC_IDS = frozenset(getattr(X, "X86_INS_" + n) for n in _JCC)
for _id in JCC_IDS:
    TABLE[_id] = _s(Rule.BRANCH, "jcc", _CF)

SEGMENT_REGS = frozenset({"cs", "ds", "es", "fs", "gs", "ss"})
_NAMES = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
# Mnemonics whose instructions the table may treat as sensitive: the scanner decodes these
# with Capstone's (slow) operand detail and everything else with its light decoder.
SENSITIVE_MNEMONICS = frozenset(
    {_NAMES.insn_name(i) for i in TABLE} | {"jmp", "call", "ret", "retf", "iret", "iretd"}
)
_REG_OPERAND_CHECK = frozenset({"mov", "push", "pop"})
_SPECIAL_REGS = SEGMENT_REGS | {f"cr{i}" for i in range(9)} | {f"dr{i}" for i in range(8)}


def needs_detail(mnemonic: str, op_str: str) -> bool:
    """Whether an instruction (as the light decoder prints it) might be sensitive."""
    name = mnemonic.rsplit(" ", 1)[-1]
    if name in SENSITIVE_MNEMONICS or "cs:" in op_str:
        return True
    if name in _REG_OPERAND_CHECK:
        return any(tok.strip() in _SPECIAL_REGS for tok in op_str.split(","))
    return False


COPY = _s(Rule.COPY, "copy", "harmless: general registers, arithmetic flags, guest memory")
# Given by the scanner to an instruction the CPU model lacks (translator/features.py).
ABSENT = _s(Rule.INLINE, "ud", "not on the guest's CPU model (its CPUID lacks the feature): #UD")
# Given by the scanner to the marker at a built-in BIOS service's ROM entry (bt/callouts/bios.py).
BIOS_ENTRY = _s(
    Rule.EXIT, "bios", "a BIOS service entry point: the service runs in the monitor, then the ROM"
)
REP_BITSCAN = _s(
    Rule.INLINE,
    "rep_bitscan",
    "LZCNT/TZCNT on a CPU model without ABM/BMI1 are REP BSR/BSF; the real CPU would count",
)
_MOV_CR_READ = _s(Rule.INLINE, "mov_from_cr", _PRIV + "; control registers are virtual")
_MOV_CR_WRITE = _s(Rule.EXIT, "mov_to_cr", _PRIV + "; CR0/CR3/CR4 change how code translates")
_MOV_DR = _s(Rule.INLINE, "mov_dr", _PRIV + "; debug registers are virtual")
_MOV_FROM_SEG = _s(Rule.INLINE, "mov_from_seg", _RI + " (shows the real selector and RPL)")
_MOV_TO_SEG = _s(Rule.INLINE, "mov_to_seg", _RI + " (loads a descriptor of the real GDT)")
_MOV_TO_SS = _s(Rule.INLINE, "mov_to_seg", _RI + " (loads SS; inhibits interrupts once)")
_PUSH_SEG = _s(Rule.INLINE, "push_seg", _RI + " (pushes the real selector)")
_POP_SEG = _s(Rule.INLINE, "pop_seg", _RI + " (loads a descriptor of the real GDT)")
_JMP_IND = _s(Rule.INDIRECT, "jmp_indirect", _CF + "; the target is a guest address")
_CALL_IND = _s(Rule.INDIRECT, "call_indirect", _CF + "; the target is a guest address")
_FAR_JMP_IND = _s(Rule.EXIT, "far_jmp", _RI + " (loads CS, sets the real CPL)")
_FAR_CALL_IND = _s(Rule.EXIT, "far_call", _RI + " (loads CS, pushes the real CS)")
CS_OVERRIDE = _s(
    Rule.INLINE,
    "cs_access",
    "reads through CS: the real CS is the monitor's code segment, so "
    "the offset is biased by the guest's CS base (translator/csaccess.py)",
)
CS_WRITE = _s(
    Rule.EXIT,
    "gp0",
    "writes through CS: #GP(0) in protected mode (Intel SDM; QEMU "
    "7.2 does not check segment types on data accesses)",
)


def classify(insn: GuestInsn, cs_writes_fault: bool = True) -> Sensitivity:
    """The rule for `insn` (the table, refined by the operands where the id is not enough).
    `cs_writes_fault`: protected mode, where a write through CS is #GP(0) whatever the
    instruction (real and V86 mode take a write through CS like a read)."""
    iid = insn.insn_id
    acc = cs_access(insn)
    if acc is not None and acc.kind == "write" and cs_writes_fault:
        return CS_WRITE  # before the table: SGDT [cs:m], MOV [cs:m], DS... write through CS
    if iid == X.X86_INS_MOV:
        regs = [op.name for op in insn.operands if isinstance(op, RegOp)]
        if any(r.startswith("cr") for r in regs):
            first = insn.operands[0]
            return (
                _MOV_CR_WRITE
                if isinstance(first, RegOp) and first.name.startswith("cr")
                else (_MOV_CR_READ)
            )
        if any(r.startswith("dr") for r in regs):
            return _MOV_DR
        first = insn.operands[0]
        if isinstance(first, RegOp) and first.name in SEGMENT_REGS:
            return _MOV_TO_SS if first.name == "ss" else _MOV_TO_SEG
        if any(r in SEGMENT_REGS for r in regs):
            return _MOV_FROM_SEG
    elif iid == X.X86_INS_PUSH:
        op = insn.operands[0] if insn.operands else None
        if isinstance(op, RegOp) and op.name in SEGMENT_REGS:
            return _PUSH_SEG
    elif iid == X.X86_INS_POP:
        op = insn.operands[0] if insn.operands else None
        if isinstance(op, RegOp) and op.name in SEGMENT_REGS:
            return _POP_SEG
    elif iid in (X.X86_INS_JMP, X.X86_INS_CALL) and insn.operands and not _is_direct(insn):
        far = _modrm_reg(insn) in (3, 5)
        if iid == X.X86_INS_JMP:
            return _FAR_JMP_IND if far else _JMP_IND
        return _FAR_CALL_IND if far else _CALL_IND
    rule = TABLE.get(iid)
    if rule is not None:
        return rule
    if acc is not None and acc.kind in ("read", "write"):
        return CS_OVERRIDE
    return COPY


def _is_direct(insn: GuestInsn) -> bool:
    op0 = insn.raw[len(insn.prefixes)]
    return op0 in (0xE8, 0xE9, 0xEB)


def _modrm_reg(insn: GuestInsn) -> int:
    i = len(insn.prefixes)
    if insn.raw[i] == 0xFF and i + 1 < len(insn.raw):
        return (insn.raw[i + 1] >> 3) & 7
    return -1
