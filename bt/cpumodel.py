"""CpuModel: the CPU models a guest can be given (`--cpu`), each as QEMU 7.2 TCG shows it.

Each model's CPUID leaves were measured: guests/cpumodel.asm prints every leaf the model
reports, under `qemu-system-i386 -cpu NAME` (tools/qemu_ref.py, guests/expected/cpumodel@NAME
.serial; tests/test_cpumodels.py checks these tables against those files). CPUID answers a leaf
past the basic or extended maximum (and any hypervisor leaf but 0x40000000-0x40000001, and the
0xC0000000 range these models lack) as the highest basic leaf, with the same ECX, as QEMU does.

The features the engine honours are read from the leaves themselves (`has`), so a model cannot
report a feature the engine then lacks or the reverse. What depends on them is listed where it
is decided: CR4.OSFXSR (bt/callouts/ctrlregs.py), EFER.NXE and MAXPHYADDR (the page walker,
bt/paging.py), the MSRs (bt/msrs.py), the instructions a model lacks (#UD:
translator/features.py). Where QEMU does not enforce a feature the model lacks (SYSENTER
without SEP, RDTSC without TSC, RDMSR without MSR, MMX, CR4 bits such as PAE or PGE), neither
does bt, and the place says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from bt.errors import OptionError

Leaf = tuple[int, int, int, int]
# (leaf, sub-leaf, EAX, EBX, ECX, EDX); the sub-leaf only counts for SUBLEAF_LEAVES.
LeafRow = tuple[int, int, int, int, int, int]

SUBLEAF_LEAVES = frozenset({4, 7, 0xB, 0xD})
HYPERVISOR_LEAVES = (0x40000000, 0x40000001)  # QEMU TCG's "TCGTCGTCGTCG" signature leaves

# Feature flags by name: (leaf, register index in (EAX, EBX, ECX, EDX), bit).
_FEATURE_BITS: dict[str, tuple[int, int, int]] = {
    "fpu": (1, 3, 0),
    "vme": (1, 3, 1),
    "de": (1, 3, 2),
    "pse": (1, 3, 3),
    "tsc": (1, 3, 4),
    "msr": (1, 3, 5),
    "pae": (1, 3, 6),
    "mce": (1, 3, 7),
    "cx8": (1, 3, 8),
    "apic": (1, 3, 9),
    "sep": (1, 3, 11),
    "mtrr": (1, 3, 12),
    "pge": (1, 3, 13),
    "mca": (1, 3, 14),
    "cmov": (1, 3, 15),
    "pat": (1, 3, 16),
    "pse36": (1, 3, 17),
    "clflush": (1, 3, 19),
    "mmx": (1, 3, 23),
    "fxsr": (1, 3, 24),
    "sse": (1, 3, 25),
    "sse2": (1, 3, 26),
    "sse3": (1, 2, 0),
    "pclmulqdq": (1, 2, 1),
    "monitor": (1, 2, 3),
    "vmx": (1, 2, 5),
    "ssse3": (1, 2, 9),
    "cx16": (1, 2, 13),
    "sse41": (1, 2, 19),
    "sse42": (1, 2, 20),
    "movbe": (1, 2, 22),
    "popcnt": (1, 2, 23),
    "aes": (1, 2, 25),
    "xsave": (1, 2, 26),
    "rdrand": (1, 2, 30),
    "bmi1": (7, 1, 3),
    "bmi2": (7, 1, 8),
    "rdseed": (7, 1, 18),
    "adx": (7, 1, 19),
    "abm": (0x80000001, 2, 5),  # LZCNT
    "syscall": (0x80000001, 3, 11),
    "nx": (0x80000001, 3, 20),
    "rdtscp": (0x80000001, 3, 27),
    "lm": (0x80000001, 3, 29),
}
FEATURES = frozenset(_FEATURE_BITS)


@dataclass(frozen=True)  # no slots: the lookup table and feature set are cached per instance
class CpuModel:
    """One CPU model: its name, a line for `--cpu help`, and the CPUID leaves it reports."""

    name: str
    description: str
    leaves: tuple[LeafRow, ...]

    @cached_property
    def _table(self) -> dict[tuple[int, int], Leaf]:
        return {(r[0], r[1]): (r[2], r[3], r[4], r[5]) for r in self.leaves}

    @property
    def max_basic(self) -> int:
        return self._table[(0, 0)][0]

    @property
    def max_extended(self) -> int:
        """The highest extended leaf, or 0 when the model has none."""
        ext = self._table.get((0x80000000, 0))
        return ext[0] if ext is not None else 0

    def cpuid(self, eax: int, ecx: int) -> Leaf:
        """EAX, EBX, ECX, EDX that CPUID returns for leaf `eax`, sub-leaf `ecx`."""
        in_range = (
            eax <= self.max_basic
            or eax in HYPERVISOR_LEAVES
            or 0x80000000 <= eax <= self.max_extended
        )
        if not in_range:
            eax = self.max_basic
        sub = ecx if eax in SUBLEAF_LEAVES else 0
        return self._table.get((eax, sub), (0, 0, 0, 0))

    def has(self, feature: str) -> bool:
        """Whether the model reports `feature` (a name of FEATURES) in its CPUID leaves."""
        leaf, reg, bit = _FEATURE_BITS[feature]
        row = self._table.get((leaf, 0))
        return row is not None and bool(row[reg] >> bit & 1)

    @cached_property
    def features(self) -> frozenset[str]:
        """Every feature of FEATURES the model reports."""
        return frozenset(f for f in FEATURES if self.has(f))

    @property
    def maxphyaddr(self) -> int:
        """Physical address bits: leaf 0x80000008 where the model has it, else 36 with PSE-36
        and 32 without (QEMU 7.2 x86_cpu_realizefn for a CPU without long mode)."""
        if self.max_extended >= 0x80000008:
            return self._table[(0x80000008, 0)][0] & 0xFF
        return 36 if self.has("pse36") else 32


QEMU32 = CpuModel(
    "qemu32",
    "QEMU Virtual CPU version 2.5+ (QEMU's default 32-bit model)",
    (
        (0x00000000, 0, 0x00000004, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x00000001, 0, 0x00000663, 0x00000800, 0x80000001, 0x0781ABFD),
        (0x00000002, 0, 0x00000001, 0x00000000, 0x0000004D, 0x002C307D),
        (0x00000003, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000004, 0, 0x00000121, 0x01C0003F, 0x0000003F, 0x00000001),
        (0x00000004, 1, 0x00000122, 0x01C0003F, 0x0000003F, 0x00000001),
        (0x00000004, 2, 0x00000143, 0x03C0003F, 0x00000FFF, 0x00000001),
        (0x00000004, 3, 0x00000163, 0x03C0003F, 0x00003FFF, 0x00000006),
        (0x40000000, 0, 0x40000001, 0x54474354, 0x43544743, 0x47435447),
        (0x40000001, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x80000000, 0, 0x80000004, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x80000001, 0, 0x00000663, 0x00000000, 0x00000000, 0x00000000),
        (0x80000002, 0, 0x554D4551, 0x72695620, 0x6C617574, 0x55504320),
        (0x80000003, 0, 0x72657620, 0x6E6F6973, 0x352E3220, 0x0000002B),
        (0x80000004, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
    ),
)

I486 = CpuModel(
    "486",
    "Intel 486: no TSC, MSR, CX8 or CPUID leaves past 1",
    (
        (0x00000000, 0, 0x00000001, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x00000001, 0, 0x00000480, 0x00000800, 0x80000000, 0x00000009),
        (0x40000000, 0, 0x40000001, 0x54474354, 0x43544743, 0x47435447),
        (0x40000001, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
    ),
)

PENTIUM = CpuModel(
    "pentium",
    "Intel Pentium (P5 with MMX): no CMOV, FXSR, SSE, PAE or PGE",
    (
        (0x00000000, 0, 0x00000001, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x00000001, 0, 0x00000543, 0x00000800, 0x80000000, 0x008003BD),
        (0x40000000, 0, 0x40000001, 0x54474354, 0x43544743, 0x47435447),
        (0x40000001, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
    ),
)

PENTIUM2 = CpuModel(
    "pentium2",
    "Intel Pentium II: CMOV, FXSR, PAE, PGE, PSE-36, MTRR, PAT; no SSE",
    (
        (0x00000000, 0, 0x00000002, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x00000001, 0, 0x00000652, 0x00000800, 0x80000000, 0x0183FBFD),
        (0x00000002, 0, 0x00000001, 0x00000000, 0x0000004D, 0x002C307D),
        (0x40000000, 0, 0x40000001, 0x54474354, 0x43544743, 0x47435447),
        (0x40000001, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
    ),
)

PENTIUM3 = CpuModel(
    "pentium3",
    "Intel Pentium III: the Pentium II with SSE",
    (
        (0x00000000, 0, 0x00000003, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x00000001, 0, 0x00000673, 0x00000800, 0x80000000, 0x0383FBFD),
        (0x00000002, 0, 0x00000001, 0x00000000, 0x0000004D, 0x002C307D),
        (0x00000003, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x40000000, 0, 0x40000001, 0x54474354, 0x43544743, 0x47435447),
        (0x40000001, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
    ),
)

KVM32 = CpuModel(
    "kvm32",
    "Common 32-bit KVM processor: SSE2, SSE3, CLFLUSH, 36 physical address bits",
    (
        (0x00000000, 0, 0x00000005, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x00000001, 0, 0x00000F61, 0x00000800, 0x80000001, 0x078BFBFD),
        (0x00000002, 0, 0x00000001, 0x00000000, 0x0000004D, 0x002C307D),
        (0x00000003, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000004, 0, 0x00000121, 0x01C0003F, 0x0000003F, 0x00000001),
        (0x00000004, 1, 0x00000122, 0x01C0003F, 0x0000003F, 0x00000001),
        (0x00000004, 2, 0x00000143, 0x03C0003F, 0x00000FFF, 0x00000001),
        (0x00000004, 3, 0x00000163, 0x03C0003F, 0x00003FFF, 0x00000006),
        (0x00000005, 0, 0x00000000, 0x00000000, 0x00000003, 0x00000000),
        (0x40000000, 0, 0x40000001, 0x54474354, 0x43544743, 0x47435447),
        (0x40000001, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x80000000, 0, 0x80000008, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x80000001, 0, 0x00000F61, 0x00000000, 0x00000000, 0x00000000),
        (0x80000002, 0, 0x6D6D6F43, 0x33206E6F, 0x69622D32, 0x564B2074),
        (0x80000003, 0, 0x7270204D, 0x7365636F, 0x00726F73, 0x00000000),
        (0x80000004, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x80000005, 0, 0x01FF01FF, 0x01FF01FF, 0x40020140, 0x40020140),
        (0x80000006, 0, 0x00000000, 0x42004200, 0x02008140, 0x00808140),
        (0x80000007, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x80000008, 0, 0x00000024, 0x00000000, 0x00000000, 0x00000000),
    ),
)

N270 = CpuModel(
    "n270",
    "Intel Atom N270: SSE3, SSSE3, MOVBE, MONITOR, NX",
    (
        (0x00000000, 0, 0x0000000A, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x00000001, 0, 0x000106C2, 0x00000800, 0x80400209, 0x0FC9FBFD),
        (0x00000002, 0, 0x00000001, 0x00000000, 0x0000004D, 0x002C307D),
        (0x00000003, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000004, 0, 0x00000121, 0x01C0003F, 0x0000003F, 0x00000001),
        (0x00000004, 1, 0x00000122, 0x01C0003F, 0x0000003F, 0x00000001),
        (0x00000004, 2, 0x00000143, 0x03C0003F, 0x00000FFF, 0x00000001),
        (0x00000004, 3, 0x00000163, 0x03C0003F, 0x00003FFF, 0x00000006),
        (0x00000005, 0, 0x00000000, 0x00000000, 0x00000003, 0x00000000),
        (0x00000006, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000007, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000008, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000009, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x0000000A, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x40000000, 0, 0x40000001, 0x54474354, 0x43544743, 0x47435447),
        (0x40000001, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x80000000, 0, 0x80000008, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x80000001, 0, 0x000106C2, 0x00000000, 0x00000001, 0x00100000),
        (0x80000002, 0, 0x65746E49, 0x2952286C, 0x6F744120, 0x4D54286D),
        (0x80000003, 0, 0x50432029, 0x324E2055, 0x20203037, 0x31204020),
        (0x80000004, 0, 0x4730362E, 0x00007A48, 0x00000000, 0x00000000),
        (0x80000005, 0, 0x01FF01FF, 0x01FF01FF, 0x40020140, 0x40020140),
        (0x80000006, 0, 0x00000000, 0x42004200, 0x02008140, 0x00808140),
        (0x80000007, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x80000008, 0, 0x00000020, 0x00000000, 0x00000000, 0x00000000),
    ),
)

COREDUO = CpuModel(
    "coreduo",
    "Intel Core Duo T2600: SSE3, MONITOR, NX",
    (
        (0x00000000, 0, 0x0000000A, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x00000001, 0, 0x000006E8, 0x00000800, 0x80000009, 0x0FC9FBFD),
        (0x00000002, 0, 0x00000001, 0x00000000, 0x0000004D, 0x002C307D),
        (0x00000003, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000004, 0, 0x00000121, 0x01C0003F, 0x0000003F, 0x00000001),
        (0x00000004, 1, 0x00000122, 0x01C0003F, 0x0000003F, 0x00000001),
        (0x00000004, 2, 0x00000143, 0x03C0003F, 0x00000FFF, 0x00000001),
        (0x00000004, 3, 0x00000163, 0x03C0003F, 0x00003FFF, 0x00000006),
        (0x00000005, 0, 0x00000000, 0x00000000, 0x00000003, 0x00000000),
        (0x00000006, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000007, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000008, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x00000009, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x0000000A, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x40000000, 0, 0x40000001, 0x54474354, 0x43544743, 0x47435447),
        (0x40000001, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x80000000, 0, 0x80000008, 0x756E6547, 0x6C65746E, 0x49656E69),
        (0x80000001, 0, 0x000006E8, 0x00000000, 0x00000000, 0x00100000),
        (0x80000002, 0, 0x756E6547, 0x20656E69, 0x65746E49, 0x2952286C),
        (0x80000003, 0, 0x55504320, 0x20202020, 0x20202020, 0x54202020),
        (0x80000004, 0, 0x30303632, 0x20402020, 0x36312E32, 0x007A4847),
        (0x80000005, 0, 0x01FF01FF, 0x01FF01FF, 0x40020140, 0x40020140),
        (0x80000006, 0, 0x00000000, 0x42004200, 0x02008140, 0x00808140),
        (0x80000007, 0, 0x00000000, 0x00000000, 0x00000000, 0x00000000),
        (0x80000008, 0, 0x00000020, 0x00000000, 0x00000000, 0x00000000),
    ),
)

MODELS: dict[str, CpuModel] = {
    m.name: m for m in (QEMU32, I486, PENTIUM, PENTIUM2, PENTIUM3, KVM32, N270, COREDUO)
}
DEFAULT = QEMU32


def model_named(spec: str) -> CpuModel:
    """The model `spec` names, as QEMU's -cpu spells it: NAME, then optional `,-feature` /
    `,+feature` / `,feature=on|off` toggles (a feature can be added only if some model the
    engine has reports it, so the engine implements it); OptionError (exit status 2) otherwise."""
    name, *toggles = spec.split(",")
    model = MODELS.get(name)
    if model is None:
        raise OptionError(f"--cpu: unknown CPU model {name!r} (choose from {', '.join(MODELS)})")
    for toggle in toggles:
        feature, on = _toggle(toggle)
        if on and not any(m.has(feature) for m in MODELS.values()):
            raise OptionError(f"--cpu: bt does not implement the feature {feature!r}")
        model = _with_feature(model, spec, feature, on)
    return model


def _toggle(text: str) -> tuple[str, bool]:
    """One `-cpu` feature toggle: (feature, on)."""
    if text[:1] in "+-" and text[1:]:
        feature, on = text[1:], text[0] == "+"
    elif "=" in text:
        feature, value = text.split("=", 1)
        if value not in ("on", "off"):
            raise OptionError(f"--cpu: {text!r}: expected {feature}=on or {feature}=off")
        on = value == "on"
    else:
        raise OptionError(f"--cpu: {text!r}: expected +FEATURE, -FEATURE or FEATURE=on|off")
    feature = feature.replace("-", "").replace("_", "").replace(".", "")  # sse4.1 = sse4-1
    if feature not in FEATURES:
        raise OptionError(f"--cpu: unknown feature {text!r} (known: {', '.join(sorted(FEATURES))})")
    return feature, on


def _with_feature(model: CpuModel, name: str, feature: str, on: bool) -> CpuModel:
    """`model` with `feature`'s CPUID bit set or cleared, called `name`."""
    leaf, reg, bit = _FEATURE_BITS[feature]
    rows = []
    for row in model.leaves:
        if row[0] == leaf and row[1] == 0:
            regs = list(row[2:])
            regs[reg] = regs[reg] | 1 << bit if on else regs[reg] & ~(1 << bit)
            row = (row[0], row[1], regs[0], regs[1], regs[2], regs[3])
        rows.append(row)
    return CpuModel(name, model.description, tuple(rows))


def models_help() -> str:
    """The text of `--cpu help`: one line a model."""
    return "".join(f"{m.name:10} {m.description}\n" for m in MODELS.values())
