"""The CPUID leaves of the reference CPU: QEMU 7.2's default `qemu32` model under TCG (measured).

Values were read from qemu-system-i386 by a guest that prints every leaf (see the git history
of this file for the probe). As on Intel CPUs, a basic leaf above the maximum (4) and an
extended leaf above 0x80000004 answer as the highest basic leaf does, with the same ECX.
"""

from __future__ import annotations

_Leaf = tuple[int, int, int, int]

MAX_BASIC = 4
MAX_EXTENDED = 0x80000004

_BASIC: dict[int, _Leaf] = {
    0: (0x00000004, 0x756E6547, 0x6C65746E, 0x49656E69),  # "GenuineIntel"
    1: (0x00000663, 0x00000800, 0x80000001, 0x0781ABFD),  # family 6 model 6 stepping 3
    2: (0x00000001, 0x00000000, 0x0000004D, 0x002C307D),
    3: (0, 0, 0, 0),
}
_LEAF4: dict[int, _Leaf] = {  # cache parameters by ECX sub-leaf
    0: (0x00000121, 0x01C0003F, 0x0000003F, 0x00000001),
    1: (0x00000122, 0x01C0003F, 0x0000003F, 0x00000001),
    2: (0x00000143, 0x03C0003F, 0x00000FFF, 0x00000001),
    3: (0x00000163, 0x03C0003F, 0x00003FFF, 0x00000006),
}
_EXTENDED: dict[int, _Leaf] = {
    0x80000000: (0x80000004, 0x756E6547, 0x6C65746E, 0x49656E69),
    0x80000001: (0x00000663, 0, 0, 0),
    0x80000002: (0x554D4551, 0x72695620, 0x6C617574, 0x55504320),  # "QEMU Virtual CPU"
    0x80000003: (0x72657620, 0x6E6F6973, 0x352E3220, 0x0000002B),  # " version 2.5+"
    0x80000004: (0, 0, 0, 0),
}
_HYPERVISOR: dict[int, _Leaf] = {
    0x40000000: (0x40000001, 0x54474354, 0x43544743, 0x47435447),  # "TCGTCGTCGTCG"
}


def cpuid_leaf(eax: int, ecx: int) -> _Leaf:
    """EAX, EBX, ECX, EDX that CPUID returns for leaf `eax`, sub-leaf `ecx`."""
    if 0x40000000 <= eax < 0x50000000:
        return _HYPERVISOR.get(eax, (0, 0, 0, 0))
    if eax >= 0x80000000 and eax <= MAX_EXTENDED:
        return _EXTENDED[eax]
    if eax > MAX_BASIC:
        eax = MAX_BASIC
    if eax == 4:
        return _LEAF4.get(ecx, (0, 0, 0, 0))
    return _BASIC[eax]
