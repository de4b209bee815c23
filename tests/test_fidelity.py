"""The fidelity matrix: every sensitive instruction at CPL 0 and CPL 3, with guest paging off and
on, and in 16-bit code (real mode, PM16 CPL 0 and CPL 3, V86 mode at IOPL 0), shows the guest
what QEMU shows it (the same check that generates the README's table)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import fidelity  # noqa: E402

_FAULT = re.compile(r"fault vec=0x(\w\w) err=0x(\w{4})")


def test_every_cell_equals_qemu() -> None:
    cells = fidelity.matrix()
    assert "V86" in fidelity.columns() and "real" in fidelity.columns()
    assert len(cells) == len(fidelity.INSNS) * len(fidelity.columns())
    bad = {k: v for k, v in cells.items() if v != "="}
    assert not bad, bad


def test_paging_changes_only_cr0_pg_for_qemu() -> None:
    # The paged run's layout keeps every operand, stack and table on a page the access may
    # use (SDM 4.6), so QEMU shows the guest what it shows without paging but for CR0.PG in
    # what reads CR0: a "DIFF" in a paged column is the engine's, not the layout's.
    off = fidelity.lines_by_cell(fidelity.REFERENCE.read_text())
    on = fidelity.lines_by_cell(fidelity.PAGED_REFERENCE.read_text())
    assert on.keys() == off.keys() and len(on) == len(fidelity.INSNS) * len(fidelity.MODES)
    changed = {k for k in off if on[k] != off[k]}
    assert changed == {("cpl0", "LMSW"), ("cpl0", "MOV CRn"), ("cpl0", "SMSW"), ("cpl3", "SMSW")}
    for k in changed:
        assert on[k] == off[k].replace("=0x00000011", "=0x80000011")


def _faults(lines: dict[tuple[str, str], str], mode: str) -> dict[str, tuple[str, str]]:
    """Instruction -> (vector, error code) of the tries that faulted in `mode`."""
    out = {}
    for insn in fidelity.INSNS:
        m = _FAULT.search(lines[(mode, insn)])
        if m:
            out[insn] = (m.group(1), m.group(2))
    return out


def test_sixteen_bit_reference_fills_every_cell() -> None:
    ref16 = fidelity.lines_by_cell(fidelity.REFERENCE16.read_text())
    rows = {(m, i) for m in fidelity.MODES16 for i in fidelity.INSNS}
    assert rows <= set(ref16)
    # the rest: the 0x66 forms and the 286 gate, compared whole by tests/test_guests.py
    assert {i for _, i in set(ref16) - rows} == {"INT n (286 gate)"} | {
        f"o32 {i}"
        for i in (
            "PUSHF",
            "POPF",
            "MOV from Sreg",
            "SLDT",
            "SMSW",
            "SGDT",
            "PUSH Sreg",
            "far JMP",
            "far CALL",
            "far RET",
            "IRET",
        )
    }


def test_real_mode_faults_where_the_sdm_says() -> None:
    # SDM vol. 2, Real-Address Mode Exceptions: LLDT, SLDT, LTR, STR, LAR, LSL, VERR and VERW
    # are "not recognized" (#UD); SYSENTER and SYSEXIT #GP(0) with CR0.PE = 0 (real mode
    # pushes no error code: the guest's stand-in 0xffff); BOUND's #BR is the index's, as at
    # CPL 0. RDPMC's #UD is qemu32's (no performance counters), as in the CPL 0 column.
    # Everything else runs.
    ref16 = fidelity.lines_by_cell(fidelity.REFERENCE16.read_text())
    ud = ("LLDT", "LTR", "SLDT", "STR", "LAR", "LSL", "VERR", "VERW", "RDPMC")
    assert _faults(ref16, "real") == {
        **{i: ("06", "ffff") for i in ud},
        "SYSENTER": ("0d", "ffff"),
        "SYSEXIT": ("0d", "ffff"),
        "BOUND": ("05", "ffff"),
    }


def test_sixteen_bit_code_faults_as_32_bit_code_does() -> None:
    # The privilege rules do not depend on the code segment's D bit: each instruction faults
    # in 16-bit code at CPL N exactly where (vector and error code) it does in 32-bit code.
    ref = fidelity.lines_by_cell(fidelity.REFERENCE.read_text())
    ref16 = fidelity.lines_by_cell(fidelity.REFERENCE16.read_text())
    for cpl in ("cpl0", "cpl3"):
        assert _faults(ref16, f"pm16{cpl}") == _faults(ref, cpl)


def test_v86_faults_where_the_sdm_says() -> None:
    # SDM vol. 3, 20.2.7 and vol. 2's Virtual-8086 Mode Exceptions, at IOPL 0 and without
    # CR4.VME: the IOPL-sensitive CLI, STI, PUSHF, POPF, INT n and IRET #GP(0); the I/O
    # instructions too, the TSS's bitmap denying the port; the privileged instructions
    # (CPL 3) and SYSEXIT #GP(0); the selector instructions #UD, as in real mode. SYSENTER
    # #GPs for the null IA32_SYSENTER_CS, RDPMC for CR4.PCE clear; BOUND's #BR is the index's.
    # What else runs: SGDT/SIDT/SMSW, the segment loads and far transfers, CPUID, RDTSC, INTO.
    v86 = fidelity.lines_by_cell(fidelity.V86_REFERENCE.read_text())
    ud = ("LLDT", "LTR", "SLDT", "STR", "LAR", "LSL", "VERR", "VERW")
    gp = (
        *("CLI", "STI", "PUSHF", "POPF", "INT n", "INT n (gate DPL 0)", "IRET"),
        *("IN", "OUT", "INS", "OUTS", "HLT", "LGDT", "LIDT", "LMSW", "MOV CRn", "MOV DRn"),
        *("INVLPG", "INVD", "WBINVD", "RDMSR", "WRMSR", "CLTS", "RDPMC", "SYSENTER", "SYSEXIT"),
    )
    assert _faults(v86, "v86") == {
        **{i: ("06", "ffff") for i in ud},
        **{i: ("0d", "0000") for i in gp},
        "BOUND": ("05", "ffff"),
    }
