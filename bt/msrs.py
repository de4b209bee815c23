"""The guest's model-specific registers as QEMU 7.2 TCG (with SeaBIOS before the kernel) has them.

Measured with guests/cpumodel.asm under each `-cpu` model (guests/expected/cpumodel@*.serial):
at CPL 0 no RDMSR or WRMSR raises #GP on these models, whatever the index or value. An MSR
QEMU does not implement reads 0 and drops writes; the ones it implements are below, with the
value a kernel finds at its entry (QEMU's reset value, or what SeaBIOS programmed: the MTRRs)
and how a write is kept. Writes are stored unmasked unless said otherwise: QEMU checks no
reserved bits, not even an invalid PAT memory type (measured: 0x...02 and all-ones read back).

The vCPU's `msrs` dict holds only what the guest wrote (so a machine-state record stays small);
a read of an MSR never written gives `initial`. The TSC (0x10) and IA32_TSC_ADJUST (0x3B, where
the model reports it) belong to the time base and are handled by the RDMSR/WRMSR callouts.
"""

from __future__ import annotations

from bt.cpumodel import CpuModel

TSC = 0x10
TSC_ADJUST = 0x3B  # with CPUID.7.0:EBX bit 1 only (no model bt offers reports it yet)
APIC_BASE = 0x1B
APIC_BSP, APIC_ENABLE = 1 << 8, 1 << 11
BIOS_SIGN_ID = 0x8B
MTRR_CAP = 0xFE
SYSENTER_CS, SYSENTER_ESP, SYSENTER_EIP = 0x174, 0x175, 0x176
MCG_CAP, MCG_STATUS, MCG_CTL = 0x179, 0x17A, 0x17B
PERF_STATUS = 0x198
MISC_ENABLE = 0x1A0
MTRR_PHYS = range(0x200, 0x210)  # eight base/mask pairs
MTRR_FIX = (0x250, 0x258, 0x259, *range(0x268, 0x270))
PAT = 0x277
MTRR_DEF_TYPE = 0x2FF
MC_BANKS = 0x400  # MC0_CTL; four MSRs a bank
EFER, STAR = 0xC0000080, 0xC0000081

_ALL_ONES = (1 << 64) - 1
_MCG_CAP = 0x0100010A  # QEMU's MCE_CAP_DEF | MCE_BANKS_DEF: 10 banks, MCG_CTL_P, MCG_SER_P
_MCG_CTL_P = 0x100
_MC_BANK_COUNT = _MCG_CAP & 0xFF
_EFER_SCE, _EFER_LME, _EFER_NXE = 1, 1 << 8, 1 << 11
# SeaBIOS's MTRR set-up (src/fw/mtrr.c) on a model with MTRR and 128 MiB: write-back by default,
# the first 640 KiB WB, the BIOS area write-protected, one variable range making the PCI hole
# (2 GiB up) uncacheable.
_MTRR_DEF = 0xC06
_FIX_WB = 0x0606060606060606
_FIX_WP = 0x0505050505050505
_PCI_HOLE = 0x80000000


def _mce(model: CpuModel) -> bool:
    return model.has("mce") and model.has("mca")


def _mc_bank(index: int) -> bool:
    return MC_BANKS <= index < MC_BANKS + 4 * _MC_BANK_COUNT


def initial(model: CpuModel, index: int) -> int:
    """What RDMSR gives at the kernel's entry for an MSR the guest has not written."""
    mtrr = model.has("mtrr")
    if index == APIC_BASE:
        return 0xFEE00900 if model.has("apic") else 0x100  # BSP (+ enabled at 0xFEE00000)
    if index == BIOS_SIGN_ID:
        return 1 << 32  # QEMU's microcode revision 0x1 in the high dword
    if index == MTRR_CAP:
        return 0x508 if mtrr else 0  # WC, fixed ranges, 8 variable ranges
    if index == MCG_CAP:
        return _MCG_CAP if _mce(model) else 0
    if index == MCG_CTL:
        return _ALL_ONES if _mce(model) else 0
    if _mc_bank(index) and _mce(model):
        return _ALL_ONES if (index - MC_BANKS) % 4 == 0 else 0
    if index == PERF_STATUS:
        return 4 << 40 | 1000  # QEMU's constant: multiplier 4, "TSC increment" 1000
    if index == MISC_ENABLE:
        return 1 | (1 << 18 if model.has("monitor") else 0)  # fast strings (+ MONITOR/MWAIT)
    if index == PAT:
        return 0x0007040600070406
    if not mtrr:
        return 0
    if index == MTRR_DEF_TYPE:
        return _MTRR_DEF
    if index in (0x250, 0x258):
        return _FIX_WB
    if 0x268 <= index < 0x270:
        return _FIX_WP
    if index == MTRR_PHYS[0]:
        return _PCI_HOLE  # base 2 GiB, type UC
    if index == MTRR_PHYS[1]:
        return ((1 << model.maxphyaddr) - 1) & ~(_PCI_HOLE - 1) | 0x800  # 2 GiB, valid
    return 0


def _efer_mask(model: CpuModel) -> int:
    """The EFER bits a write sets: only those of features the model has (QEMU drops others)."""
    mask = _EFER_SCE if model.has("syscall") else 0
    if model.has("nx"):
        mask |= _EFER_NXE
    if model.has("lm"):
        mask |= _EFER_LME
    return mask


def read(model: CpuModel, msrs: dict[int, int], index: int) -> int:
    """RDMSR `index` (not the TSC): the value written last, or the initial one."""
    return msrs.get(index, initial(model, index))


def write(model: CpuModel, msrs: dict[int, int], index: int, value: int) -> bool:
    """WRMSR `index` (not the TSC) as QEMU keeps it. True when EFER changed (the page walker
    must take it: NXE)."""
    if index == SYSENTER_CS:
        msrs[index] = value & 0xFFFF
    elif index in (SYSENTER_ESP, SYSENTER_EIP):
        msrs[index] = value & 0xFFFFFFFF  # a 32-bit CPU keeps 32 bits
    elif index == EFER:
        old = read(model, msrs, EFER)
        msrs[index] = value & _efer_mask(model)
        return msrs[index] != old
    elif index == MCG_CTL:
        if _mce(model) and value in (0, _ALL_ONES):  # QEMU takes only all or nothing
            msrs[index] = value
    elif _mc_bank(index):
        if not _mce(model):
            return False
        if (index - MC_BANKS) % 4 != 0 or value in (0, _ALL_ONES):
            msrs[index] = value  # MCi_CTL: all or nothing; STATUS, ADDR, MISC: as written
    elif index == APIC_BASE:
        if model.has("apic"):  # without a local APIC QEMU drops the write (reads 0x100)
            msrs[index] = apic_base(read(model, msrs, index), value)
    elif index in _STORED or index in MTRR_PHYS or index in MTRR_FIX:
        msrs[index] = value  # even on a model without MTRR (qemu32): QEMU keeps them
    return False


def apic_base(old: int, value: int) -> int:
    """IA32_APIC_BASE after WRMSR of `value`, as QEMU 7.2 keeps it (apic_set_base): the base
    address is taken (the registers stay at 0xFEE00000), the BSP bit stays, and a global
    disable (bit 11 clear) sticks: the enable bit cannot be set again."""
    new = (value & 0xFFFFF000) | (old & (APIC_BSP | APIC_ENABLE))
    return new if value & APIC_ENABLE else new & ~APIC_ENABLE


def apic_enabled(model: CpuModel, msrs: dict[int, int]) -> bool:
    """Whether the local APIC is there and globally enabled (QEMU clears CPUID.1:EDX.APIC
    once it is disabled)."""
    return bool(read(model, msrs, APIC_BASE) & APIC_ENABLE)


# Kept as written. The rest of
# QEMU's MSRs that these models see (BIOS_SIGN_ID, MTRRcap, MCG_CAP, PERF_STATUS, FEATURE_CONTROL,
# PLATFORM_ID, TSC_AUX without RDTSCP, DEBUGCTL and the LBRs) drop writes, as every unknown one.
_STORED = frozenset({MCG_STATUS, MISC_ENABLE, PAT, MTRR_DEF_TYPE, STAR})
