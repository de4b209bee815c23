"""Differential fuzzing in the suite: random guest code gives the same registers, flags and
memory under the engine as under the reference, and random bytes never escape or crash."""

from __future__ import annotations

import random
import struct
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import fuzz  # noqa: E402
import fuzz_raw  # noqa: E402
from fuzz_reference import Fault, RefOutcome  # noqa: E402
from undefined_flags import AF, CF, OF, PF, SF, ZF, UndefinedState  # noqa: E402

CHOICE = st.tuples(
    st.integers(0, len(fuzz.TEMPLATES) - 1),
    st.integers(0, 7),
    st.integers(0, 7),
    st.integers(0, 2**32 - 1),
)


@settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(choices=st.lists(CHOICE, min_size=1, max_size=24))
def test_engine_matches_reference(tmp_path: Path, choices: list[tuple[int, int, int, int]]) -> None:
    text = fuzz.render(choices)
    assert fuzz.compare(text, tmp_path) is None, text


def test_seeded_campaign(tmp_path: Path) -> None:
    rng = random.Random(20261123)
    faults: set[int] = set()
    cut = 0
    for _ in range(600):
        text = fuzz.render(fuzz.random_choices(rng))
        verdict = fuzz.check(text, tmp_path)
        assert verdict.diff is None, text
        faults |= {verdict.fault.vector} if verdict.fault is not None else set()
        cut += verdict.cut is not None
    # The comparison is only as good as what reaches it: faults of several kinds, and cases
    # cut before reading undefined flags (most run to the end).
    assert {0, 3, 6, 13} <= faults
    assert 0 < cut < 300


def test_random_bytes_never_escape(tmp_path: Path) -> None:
    # Each case also checks the translation cache, the monitor page and the real GDTR, CS and
    # EFLAGS afterwards (tools/isolation_check.py, as tests/test_isolation.py does).
    rng = random.Random(7)
    for _ in range(150):
        blob = rng.randbytes(rng.randint(1, 64))
        assert fuzz_raw.raw_bytes_case(blob, tmp_path) is None, blob.hex()


def test_random_bytes_in_v86_mode_never_escape(tmp_path: Path) -> None:
    # The same in virtual-8086 mode, at IOPL 0 and 3: the bytes run as 16-bit code on the
    # real CPU in real mode, and their first fault leaves V86 mode through the guest's IDT.
    rng = random.Random(86)
    for i in range(100):
        blob = rng.randbytes(rng.randint(1, 64))
        assert fuzz_raw.raw_v86_case(blob, 3 * (i & 1), tmp_path) is None, blob.hex()


def test_v86_prologue_enters_v86_mode(tmp_path: Path) -> None:
    # MOV AX, CS; HLT: #GP(0) from V86 mode with the V86 frame on the ring-0 stack.
    from unicorn import x86_const as R

    from bt.machine import Machine, MachineConfig

    m = Machine(MachineConfig(fuzz.MEM), fuzz_raw.v86_image(b"\x8c\xc8\xf4", 0, tmp_path), print)
    assert m.run(max_insns=20000).kind == "exit-port"
    esp = m.engine.read_reg(R.UC_X86_REG_ESP)
    frame = struct.unpack("<10I", m.memory.read(esp, 40))
    # vector, error code, EIP, CS, EFLAGS (VM), ESP, SS, ES, DS, FS
    assert frame == (13, 0, 2, 0x800, 0x20002, 0xFFF0, 0x700, 0x200, 0x800, 0x300)
    assert m.engine.read_reg(R.UC_X86_REG_EAX) & 0xFFFF == 0x0800


def _stored() -> list[tuple[str, str]]:
    cases = []
    for case in sorted(fuzz.REGRESSIONS.glob("*.asm")):
        lines = case.read_text().splitlines()
        cases.append((case.name, "\n".join(x for x in lines if not x.startswith(";"))))
    return cases


def test_stored_regressions(tmp_path: Path) -> None:
    cases = _stored()
    assert len(cases) >= 7, f"{fuzz.REGRESSIONS} holds {len(cases)} cases"
    for name, text in cases:
        if text.startswith("db "):
            blob = bytes(int(b) for b in text[3:].split(","))
            assert fuzz_raw.raw_bytes_case(blob, tmp_path) is None, name
        else:
            assert fuzz.compare(text, tmp_path) is None, name


def test_stored_faults_are_the_ones_a_pc_raises(tmp_path: Path) -> None:
    cases = dict(_stored())
    expect = {  # (vector, error code, EIP offset from the case's start)
        "gp_error_code.asm": (13, 0x28, 5),
        "int3_trap_frame.asm": (3, None, 6),
        "divide_error.asm": (0, None, 13),
        "into_and_ud2.asm": (4, None, 9),
    }
    for name, (vector, code, off) in expect.items():
        verdict = fuzz.check(cases[name], tmp_path)
        assert verdict.fault == Fault(vector, code, fuzz.BASE + off), name
    bsf = fuzz.check(cases["bsf_zero_source.asm"], tmp_path)
    assert bsf.cut == "add eax, 1 reads undefined eax"


def test_faults_compare_by_vector_error_code_and_eip() -> None:
    regs = (1, 2, 3, 4, 5, 6, 7, 8, 0x246)
    ref = RefOutcome(regs, bytes(16), Fault(13, 0x28, 0x100005), None, UndefinedState(), None)
    same = fuzz.Outcome(regs, bytes(16), Fault(13, 0x28, 0x100005), None)
    assert fuzz.differences(same, ref) is None
    for fault in (
        Fault(13, 0x30, 0x100005),
        Fault(13, 0x28, 0x100007),
        Fault(12, 0x28, 0x100005),
        None,
    ):
        assert fuzz.differences(fuzz.Outcome(regs, bytes(16), fault, None), ref) is not None
    other = fuzz.Outcome(
        (1, 2, 3, 4, 5, 6, 9, 8, 0x246), bytes(16), Fault(13, 0x28, 0x100005), None
    )
    assert fuzz.differences(other, ref) == "esi: engine 0x00000009, reference 0x00000007"


def test_only_undefined_flags_are_masked() -> None:
    regs = (1, 2, 3, 4, 5, 6, 7, 8, 0x246)
    after_imul = UndefinedState(flags=SF | ZF | AF | PF)
    ref = RefOutcome(regs, bytes(16), None, None, after_imul, None)
    for flip, equal in ((SF, True), (ZF | PF, True), (CF, False), (OF, False)):
        eng = fuzz.Outcome((*regs[:8], regs[8] ^ flip), bytes(16), None, None)
        assert (fuzz.differences(eng, ref) is None) == equal, hex(flip)


def test_minimise_keeps_only_what_diverges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in divergence: any case containing CLI diverges.
    def fake_compare(text: str, tmp: Path) -> str | None:
        return "diverges" if "cli" in text else None

    monkeypatch.setattr(fuzz, "compare", fake_compare)
    cli = fuzz.TEMPLATES.index("cli")
    choices = [(0, 1, 2, 3), (cli, 0, 0, 0), (4, 1, 2, 5), (5, 2, 3, 7)]
    assert fuzz.minimise(choices, tmp_path) == [(cli, 0, 0, 0)]
