"""Virtual-8086 mode: CR4.VME and PVI as the Intel SDM defines them, where QEMU is no reference.

guests/v86.asm without arguments equals QEMU (tests/test_guests.py). With "vme" on its command
line it also runs a CR4.VME part at IOPL 0, which QEMU 7.2 does not implement (under QEMU every
one of those tries is a #GP(0), guests/README.md): here each result is checked against the
SDM's rules (vol. 3, 20.3-20.4; the pseudo-code of CLI, STI, PUSHF, POPF, INT n and IRET).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from limits import limit_args
from test_guests import EXPECTED, run_bt

from bt.callouts import v86
from bt.exits import Fault
from bt.translator.insn import GuestInsn
from bt.vcpu import CR0_ET, CR0_PE, IF, VIF, VIP, VM, SegmentCache, Vcpu

IOPL_SHOWN = 0x3000
EFL_IF = 0x200


def _tries(text: str) -> dict[str, str]:
    """What follows each "try vme ..." name of the guest's output (its value or its fault)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        for name in sorted(_VME_TRIES, key=len, reverse=True):  # "vme sti with VIP" first
            if line.startswith(f"try {name} ") or line == f"try {name}":
                found[name] = line[len(f"try {name}") :].strip()
                break
    return found


_VME_TRIES = (
    "vme cli",
    "vme sti",
    "vme pushfd",
    "vme popf if=0",
    "vme int 40h (redirected)",
    "vme int 30h (not redirected)",
    "vme sti with VIP",
    "vme popf if=1 with VIP",
)


def _frame(rest: str) -> dict[str, int]:
    """The fields of a fault line: "#13 err=0x0000 eip=... eflags=..."."""
    vector = int(rest.split()[0][1:])
    fields = {k: int(v, 16) for k, v in re.findall(r"(\w+)=0x([0-9a-f]+)", rest)}
    return {"vector": vector, **fields}


def test_vme_part_follows_the_sdm() -> None:
    proc = run_bt("run", "v86.elf", "--append", "vme", *limit_args("v86"))
    assert proc.returncode == 1, proc.stderr
    out = proc.stdout.decode()
    # Everything but the VME part is what QEMU prints without it.
    plain = [line for line in out.splitlines() if "vme" not in line and "VME" not in line]
    assert plain == (EXPECTED / "v86.serial").read_text().splitlines()
    tries = _tries(out)
    # CLI/STI at IOPL 0 change VIF; PUSHF's image has VIF in IF's place and IOPL 3.
    assert int(tries["vme cli"], 16) & (IOPL_SHOWN | EFL_IF) == IOPL_SHOWN
    assert int(tries["vme sti"], 16) & (IOPL_SHOWN | EFL_IF) == IOPL_SHOWN | EFL_IF
    # PUSHFD is not virtualized: #GP(0); VIF (set by the STI) shows in the frame, IF as it was.
    frame = _frame(tries["vme pushfd"])
    assert (frame["vector"], frame["err"]) == (13, 0)
    assert frame["eflags"] & (VM | VIF) == VM | VIF
    # POPF: the image's IF goes to VIF, IOPL stays.
    assert int(tries["vme popf if=0"], 16) & (IOPL_SHOWN | EFL_IF) == IOPL_SHOWN
    # INT 40h, its redirection bit clear: the V86 task's IVT handler runs (AX=4040h) and its
    # IRET at IOPL 0 returns to the instruction after INT with the stack as it was.
    assert tries["vme int 40h (redirected)"] == "4040 ffee"
    # INT 30h, its bit set, at IOPL 0: #GP(0).
    frame = _frame(tries["vme int 30h (not redirected)"])
    assert (frame["vector"], frame["err"]) == (13, 0)
    # With VIP set, STI and a POPF that sets IF raise #GP(0); VIF stays clear.
    for name in ("vme sti with VIP", "vme popf if=1 with VIP"):
        frame = _frame(tries[name])
        assert (frame["vector"], frame["err"]) == (13, 0)
        assert frame["eflags"] & (VIP | VIF) == VIP


@dataclass
class _Ctx:
    """The part of CalloutContext CLI and STI use."""

    vcpu: Vcpu
    pushed: list[int] = field(default_factory=list)


def _pm_vcpu(cpl: int, cr4: int, eflags: int) -> Vcpu:
    segs = {
        n: SegmentCache(0x23, 0, 0xFFFFFFFF, 0x00CFF300) for n in ("es", "ss", "ds", "fs", "gs")
    }
    segs["cs"] = SegmentCache(0x18 | cpl, 0, 0xFFFFFFFF, 0x00CFFA00)
    return Vcpu(segs=segs, eflags_sys=eflags, cr0=CR0_ET | CR0_PE, cr4=cr4)


_CLI = GuestInsn(0x1000, 0x1000, b"\xfa", 0, "cli", "", (), (), 4)


def test_pvi_at_cpl3_changes_vif() -> None:
    # CR4.PVI at CPL 3 below IOPL 3: CLI and STI act on VIF (STI #GP(0) while VIP is set).
    vcpu = _pm_vcpu(3, v86.CR4_PVI, 0x2 | IF | VIF)
    ctx = _Ctx(vcpu)
    assert v86.cli(ctx, _CLI) is None  # type: ignore[arg-type]
    assert vcpu.eflags_sys & (IF | VIF) == IF
    assert v86.sti(ctx, _CLI) is None  # type: ignore[arg-type]
    assert vcpu.eflags_sys & VIF
    vcpu.eflags_sys |= VIP
    assert v86.sti(ctx, _CLI) == Fault(13, 0, 0x1000)  # type: ignore[arg-type]


def test_without_pvi_or_below_cpl3_cli_faults() -> None:
    for cpl, cr4 in ((3, 0), (1, v86.CR4_PVI)):
        ctx = _Ctx(_pm_vcpu(cpl, cr4, 0x2 | IF))
        assert v86.cli(ctx, _CLI) == Fault(13, 0, 0x1000)  # type: ignore[arg-type]


def test_v86_vcpu_is_cpl3_with_real_segments() -> None:
    vcpu = _pm_vcpu(0, 0, 0x2 | VM)
    assert vcpu.v86 and vcpu.cpl == 3 and vcpu.real_segments
    assert not vcpu.null(0)  # selector 0 is the segment at base 0 in V86 mode
    assert v86.segment(0x1234) == SegmentCache(0x1234, 0x12340, 0xFFFF, 0xF300)
