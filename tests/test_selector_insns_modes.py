"""LLDT, SLDT, LTR, STR, LAR, LSL, VERR and VERW are #UD in real and virtual-8086 mode (SDM
vol. 2, "not recognized"), before any privilege check; in protected mode they run (the
fidelity matrix's "real" column: guests/fidelity16.asm, guests/expected/fidelity16.serial)."""

from __future__ import annotations

import pytest
from capstone import x86_const as X

from bt.callouts import system
from bt.callouts.context import CalloutContext
from bt.exits import Fault, VcpuExit
from bt.translator.insn import GuestInsn, RegOp
from bt.vcpu import CR0_ET, CR0_PE, VM, SegmentCache, Vcpu

# (callout, Capstone id, encoding with AX/BX operands, operands)
CASES = [
    (system.lldt, X.X86_INS_LLDT, b"\x0f\x00\xd0", (RegOp("ax", 2),)),
    (system.sldt, X.X86_INS_SLDT, b"\x0f\x00\xc0", (RegOp("ax", 2),)),
    (system.ltr, X.X86_INS_LTR, b"\x0f\x00\xd8", (RegOp("ax", 2),)),
    (system.str_, X.X86_INS_STR, b"\x0f\x00\xc8", (RegOp("ax", 2),)),
    (system.lar, X.X86_INS_LAR, b"\x0f\x02\xc3", (RegOp("ax", 2), RegOp("bx", 2))),
    (system.lsl, X.X86_INS_LSL, b"\x0f\x03\xc3", (RegOp("ax", 2), RegOp("bx", 2))),
    (system.verr, X.X86_INS_VERR, b"\x0f\x00\xe0", (RegOp("ax", 2),)),
    (system.verw, X.X86_INS_VERW, b"\x0f\x00\xe8", (RegOp("ax", 2),)),
]


class _Ctx:
    """The part of CalloutContext SLDT uses."""

    def __init__(self, vcpu: Vcpu) -> None:
        self.vcpu = vcpu
        self.regs: dict[str, int] = {}

    def set_reg(self, name: str, value: int) -> None:
        self.regs[name] = value


def _vcpu(cr0: int, eflags: int) -> Vcpu:
    segs = {n: SegmentCache(0, 0, 0xFFFF, 0x9300) for n in ("es", "ss", "ds", "fs", "gs")}
    segs["cs"] = SegmentCache(0, 0, 0xFFFF, 0x9B00)
    vcpu = Vcpu(segs=segs, eflags_sys=eflags, cr0=cr0)
    vcpu.ldtr = SegmentCache(0x38, 0, 0xF, 0x8200)
    return vcpu


def _run(callout: object, vcpu: Vcpu, insn: GuestInsn) -> VcpuExit | None:
    fn = callout
    assert callable(fn)
    ctx: CalloutContext = _Ctx(vcpu)  # type: ignore[assignment]
    result: VcpuExit | None = fn(ctx, insn)
    return result


@pytest.mark.parametrize("eflags", [0x2, 0x2 | VM], ids=["real", "v86"])
@pytest.mark.parametrize(
    ("callout", "insn_id", "raw", "ops"), CASES, ids=[c[0].__name__ for c in CASES]
)
def test_not_recognized_outside_protected_mode(
    callout: object, insn_id: int, raw: bytes, ops: tuple[RegOp, ...], eflags: int
) -> None:
    cr0 = CR0_ET if eflags == 0x2 else CR0_ET | CR0_PE
    insn = GuestInsn(0x1234, 0x1234, raw, insn_id, "", "", ops, (), 2)
    assert _run(callout, _vcpu(cr0, eflags), insn) == Fault(6, None, 0x1234)


def test_protected_mode_runs_them() -> None:
    insn = GuestInsn(
        0x1234, 0x1234, b"\x0f\x00\xc0", X.X86_INS_SLDT, "", "", (RegOp("ax", 2),), (), 2
    )
    vcpu = _vcpu(CR0_ET | CR0_PE, 0x2)
    ctx = _Ctx(vcpu)
    assert system.sldt(ctx, insn) is None  # type: ignore[arg-type]
    assert ctx.regs == {"ax": 0x38}
