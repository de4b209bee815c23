"""CPU models (`--cpu`, bt/cpumodel.py) and MSRs (bt/msrs.py) against what QEMU 7.2 answered:
the CPUID leaves and MSR values guests/cpumodel.asm printed under `qemu-system-i386 -cpu NAME`
(guests/expected/cpumodel@NAME.serial, made by tools/qemu_ref.py); the instruction gate; the
command line."""

from __future__ import annotations

import re
import struct
import subprocess
import sys
from pathlib import Path

import keystone
import pytest
from limits import HANG_GUARD
from unicorn import x86_const as R

from bt import msrs
from bt.cache.persist import PersistentStore
from bt.cpumodel import DEFAULT, FEATURES, MODELS, CpuModel, model_named
from bt.errors import OptionError
from bt.loader import load_guest
from bt.machine import Machine, MachineConfig
from bt.paging import FETCH, PF_I, PF_P, PF_RSVD, PageFault
from bt.translator.features import GATED, FeatureGate
from bt.translator.scanner import Scanner
from bt.translator.sensitive import ABSENT
from tools.qemu_ref import CPU_VARIANTS

ROOT = Path(__file__).resolve().parent.parent
EXPECTED = ROOT / "guests" / "expected"
_KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_32)
_CPUID = re.compile(r"cpuid 0x(\w+)\.0x(\w+) a=0x(\w+) b=0x(\w+) c=0x(\w+) d=0x(\w+)")
_RDMSR = re.compile(r"rdmsr 0x(\w+) ok 0x(\w+):0x(\w+)")
_WRMSR = re.compile(r"wrmsr 0x(\w+) 0x(\w+):0x(\w+) ok reads ok 0x(\w+):0x(\w+)")


def _reference(model: CpuModel) -> str:
    name = "cpumodel" if model is DEFAULT else f"cpumodel@{model.name}"
    return (EXPECTED / f"{name}.serial").read_text()


def _hex(*groups: str) -> list[int]:
    return [int(g, 16) for g in groups]


def test_every_model_has_a_qemu_reference() -> None:
    assert set(MODELS) == {DEFAULT.name, *CPU_VARIANTS["cpumodel"]}
    assert DEFAULT.name == "qemu32"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_cpuid_equals_qemu(name: str) -> None:
    model = MODELS[name]
    lines = _CPUID.findall(_reference(model))
    assert len(lines) >= 10
    for groups in lines:
        leaf, sub, *regs = _hex(*groups)
        assert model.cpuid(leaf, sub) == tuple(regs), f"{name} leaf {leaf:#x}.{sub}"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_msr_values_and_writes_equal_qemu(name: str) -> None:
    model = MODELS[name]
    text = _reference(model)
    reads = _RDMSR.findall(text)
    assert len(reads) > 80
    for groups in reads:
        index, hi, lo = _hex(*groups)
        assert msrs.read(model, {}, index) == hi << 32 | lo, f"{name} rdmsr {index:#x}"
    writes = _WRMSR.findall(text)
    assert len(writes) > 30
    for groups in writes:
        index, whi, wlo, rhi, rlo = _hex(*groups)
        state: dict[int, int] = {}
        msrs.write(model, state, index, whi << 32 | wlo)
        assert msrs.read(model, state, index) == rhi << 32 | rlo, f"{name} wrmsr {index:#x}"
    assert "#13" not in "".join(line for line in text.splitlines() if "msr" in line)


def test_features_follow_the_leaves() -> None:
    p3, pentium, n270 = MODELS["pentium3"], MODELS["pentium"], MODELS["n270"]
    assert p3.has("sse") and p3.has("pse36") and not p3.has("sse2")
    assert p3.maxphyaddr == 36 and DEFAULT.maxphyaddr == 32 and n270.maxphyaddr == 32
    assert MODELS["kvm32"].maxphyaddr == 36  # its leaf 0x80000008
    assert not pentium.has("cmov") and not pentium.has("fxsr") and not pentium.has("pae")
    assert n270.has("nx") and n270.has("monitor") and not DEFAULT.has("nx")
    assert GATED <= FEATURES  # every gated name is a CPUID flag the models are read for


def test_efer_keeps_only_the_features_bits() -> None:
    state: dict[int, int] = {}
    assert msrs.write(MODELS["n270"], state, msrs.EFER, (1 << 64) - 1)
    assert state[msrs.EFER] == 1 << 11  # NXE; no SCE (no SYSCALL), no LME (no long mode)
    qemu32: dict[int, int] = {}
    assert not msrs.write(DEFAULT, qemu32, msrs.EFER, 1 << 11)  # no NX: nothing changes
    assert msrs.read(DEFAULT, qemu32, msrs.EFER) == 0


def test_unknown_model_is_bad_input() -> None:
    with pytest.raises(OptionError, match="unknown CPU model 'k6'"):
        model_named("k6")


def _scan_rules(model: CpuModel, text: str) -> list[str]:
    code = bytes(_KS.asm(text, 0x1000)[0])

    class Src:
        def fetch_code(self, linear: int, size: int) -> bytes:
            data = code[linear - 0x1000 :][:size]
            return data + b"\x90" * (size - len(data))

    block = Scanner(FeatureGate(model.features)).scan(Src(), 0, 0x1000, max_insns=len(text))
    return [r.kind for r in block.rules[: text.count(";") + 1]]


def test_gate_turns_what_a_model_lacks_into_ud() -> None:
    text = "cmove eax, ebx; fxsave [0x2000]; pxor xmm0, xmm0; pshufb xmm0, xmm1; popcnt eax, ebx"
    assert _scan_rules(MODELS["pentium"], text) == ["ud", "ud", "copy", "ud", "ud"]
    # pentium3: PXOR xmm runs (QEMU checks only CR4.OSFXSR), SSSE3 and POPCNT do not.
    assert _scan_rules(MODELS["pentium3"], text) == ["copy", "fxsave", "copy", "ud", "ud"]
    assert _scan_rules(MODELS["n270"], text) == ["copy", "fxsave", "copy", "copy", "ud"]
    assert ABSENT.kind == "ud"
    # MOVNTI needs SSE2 in QEMU; the SSE integer instructions on MMX registers need nothing.
    text = "movnti [0x2000], eax; pavgb mm0, mm1"
    assert _scan_rules(MODELS["pentium3"], text) == ["ud", "copy"]
    assert _scan_rules(MODELS["n270"], text) == ["copy", "copy"]


def test_gate_covers_what_only_the_real_cpu_has() -> None:
    # Unicorn's Broadwell (the real CPU, for SMAP) runs BMI1/2, ADX, RDRAND/RDSEED, AES-NI and
    # PCLMULQDQ; no offered model reports them, so QEMU gives #UD and so must bt.
    text = "andn eax, ebx, ecx; shlx eax, ebx, ecx; adcx eax, ebx; rdrand eax; rdseed eax"
    assert _scan_rules(MODELS["coreduo"], text) == ["ud"] * 5
    text = "aesenc xmm0, xmm1; pclmulqdq xmm0, xmm1, 0"
    assert _scan_rules(MODELS["qemu32"], text) == ["ud", "ud"]


def test_gate_costs_nothing_for_plain_code() -> None:
    gate = FeatureGate(MODELS["pentium"].features)
    assert not gate.suspect("add", "eax, ebx")
    assert not gate.suspect("rep movsb", "byte ptr es:[edi], byte ptr [esi]")
    assert gate.suspect("cmovne", "eax, ebx")


def test_persistent_cache_keeps_models_apart(tmp_path: Path) -> None:
    a = PersistentStore(str(tmp_path), variant="pentium")
    b = PersistentStore(str(tmp_path), variant="qemu32")
    assert a.version != b.version and a.version.endswith("/pentium")


def _flat_machine(tmp_path: Path, cpu: str, text: str) -> Machine:
    path = tmp_path / "guest.bin"
    path.write_bytes(bytes(_KS.asm(text, 0x100000)[0]))
    image = load_guest(str(path), 16 << 20, "", 0x100000, None)
    return Machine(MachineConfig(16 << 20, cpu=MODELS[cpu]), image, lambda _b: None)


def test_mwait_waits_like_hlt_on_a_model_with_monitor(tmp_path: Path) -> None:
    text = "cli; xor ecx, ecx; mov eax, 0x2000; monitor; mwait; mov al, 5; out 0xf4, al"
    m = _flat_machine(tmp_path, "n270", text)
    result = m.run(max_insns=10_000)
    assert result.kind == "halt", result
    m = _flat_machine(tmp_path, "qemu32", "cli; xor ecx, ecx; monitor; hlt")
    result = m.run(max_insns=10_000)
    assert result.kind != "halt"  # #UD with no IDT: a triple fault


def _bt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def test_cpu_help_lists_the_models() -> None:
    proc = _bt("run", "--cpu", "help")
    assert proc.returncode == 0, proc.stderr
    assert [line.split()[0] for line in proc.stdout.splitlines()] == list(MODELS)


def test_bad_cpu_is_one_line_and_status_2() -> None:
    proc = _bt("run", "--cpu", "pentium4", "guests/bin/cpumodel.elf")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown CPU model 'pentium4'" in lines[0], proc.stderr


def _nx_fetch_error(tmp_path: Path, cpu: str) -> int:
    """The #PF error code of a supervisor fetch from a PAE page whose PTE has NX (bit 63) set,
    with EFER.NXE written through the model's MSRs, on the walker the machine builds."""
    m = _flat_machine(tmp_path, cpu, "hlt")
    ram = m.engine.ram
    struct.pack_into("<Q", ram, 0x10000, 0x11000 | 1)  # PDPTE 0
    struct.pack_into("<Q", ram, 0x11000, 0x12000 | 7)  # PDE 0: P, R/W, U/S
    struct.pack_into("<Q", ram, 0x12000 + 5 * 8, 1 << 63 | 0x5000 | 7)  # PTE 5: NX
    v = m.vcpu
    v.cr0 |= 0x80000001
    v.cr4 |= 0x20
    v.cr3 = 0x10000
    msrs.write(m.ctx.cpu, v.msrs, msrs.EFER, 1 << 11)
    m.mmu.set_mode()
    with pytest.raises(PageFault) as fault:
        m.mmu.walker.translate(0x5000, FETCH, False)
    return fault.value.error_code


def test_nx_follows_the_model(tmp_path: Path) -> None:
    assert _nx_fetch_error(tmp_path, "n270") == PF_P | PF_I  # NX: an instruction-fetch fault
    # qemu32 has no NX: EFER.NXE stays clear and bit 63 is a reserved bit.
    assert _nx_fetch_error(tmp_path, "qemu32") & PF_RSVD


def test_lzcnt_and_tzcnt_are_bsr_and_bsf_without_abm(tmp_path: Path) -> None:
    assert _scan_rules(DEFAULT, "lzcnt eax, ebx; tzcnt eax, ebx") == ["rep_bitscan"] * 2
    # eax = BSR(0x400) = 10; ecx = BSF(0x8000 in cx) = 15 with the upper half kept; a zero
    # source leaves edx as it was and sets ZF (then SETZ puts it in bl).
    text = """
        mov ebx, 0x400; lzcnt eax, ebx
        mov ecx, 0xABCD8000; tzcnt cx, cx
        mov edx, 0x77; xor esi, esi; lzcnt edx, esi; setz bl
        hlt
    """
    m = _flat_machine(tmp_path, "qemu32", "cli;" + text.replace("\n", ";"))
    assert m.run(max_insns=1000).kind == "halt"
    regs = {
        r: m.engine.read_reg(getattr(R, f"UC_X86_REG_{r.upper()}"))
        for r in ("eax", "ecx", "edx", "ebx")
    }
    assert regs == {"eax": 10, "ecx": 0xABCD000F, "edx": 0x77, "ebx": 0x401}
