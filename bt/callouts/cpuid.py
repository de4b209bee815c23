"""CPUID as the chosen CPU model answers it (the leaves are in bt/cpumodel.py, measured on QEMU)."""

from __future__ import annotations

from bt.cpumodel import CpuModel, Leaf


def cpuid_leaf(model: CpuModel, eax: int, ecx: int) -> Leaf:
    """EAX, EBX, ECX, EDX that CPUID returns on `model` for leaf `eax`, sub-leaf `ecx`."""
    return model.cpuid(eax, ecx)
