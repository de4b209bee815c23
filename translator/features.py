"""FeatureGate: the instructions a CPU model lacks, which raise #UD instead of being copied.

The real CPU (Unicorn's) has every instruction set the models offer, so an instruction the
chosen model does not report would run if copied. The gate names the CPUID feature each
optional instruction needs where QEMU 7.2 TCG checks it (measured per model by
guests/cpumodel.asm): CMOVcc, FCMOVcc and FCOMI/FUCOMI(P) need CMOV, CMPXCHG8B CX8,
FXSAVE/FXRSTOR FXSR, SFENCE, LFENCE and LDMXCSR/STMXCSR SSE, MFENCE and MOVNTI SSE2, CLFLUSH its
own flag, the SSE3, SSSE3 (on MMX registers too), SSE4.1 and SSE4.2 (CRC32) instructions theirs,
POPCNT and MOVBE theirs.

The SSE and SSE2 instructions on XMM registers are checked by QEMU against CR4.OSFXSR only
(a Pentium III runs PXOR xmm), and OSFXSR cannot be set without SSE (bt/callouts/ctrlregs.py);
the real CR4 follows the guest's (bt/callouts/fpustate.py), so the real CPU raises that #UD.
Where QEMU runs an instruction the model does not report, so does bt: MMX, PREFETCHh, RDTSC
without TSC, SYSENTER/SYSEXIT without SEP, PAUSE, the SSE integer instructions on MMX registers
(PAVGB, PSHUFW, PMOVMSKB, MOVNTQ, PADDQ...) and FISTTP. LZCNT/TZCNT without ABM/BMI1 are REP
BSR/BSF (in QEMU as on such a CPU); the real CPU would count, so the gate sends them to a
callout.
"""

from __future__ import annotations

from capstone import x86_const as X

_CC = ("a", "ae", "b", "be", "e", "g", "ge", "l", "le", "ne", "no", "np", "ns", "o", "p", "s")
_FCC = ("b", "be", "e", "nb", "nbe", "ne", "nu", "u")
_CMOV_NAMES = frozenset(
    [f"cmov{cc}" for cc in _CC]
    + [f"fcmov{cc}" for cc in _FCC]
    + ["fcomi", "fcomip", "fcompi", "fucomi", "fucomip", "fucompi"]
)
_SSSE3_NAMES = frozenset(
    ("pshufb", "palignr", "phaddw", "phaddd", "phaddsw", "phsubw", "phsubd", "phsubsw")
    + ("pabsb", "pabsw", "pabsd", "pmulhrsw", "psignb", "psignw", "psignd", "pmaddubsw")
)
# Light-decoder mnemonic -> the feature it needs, whatever its operands.
BY_NAME: dict[str, str] = (
    dict.fromkeys(_CMOV_NAMES, "cmov")
    | dict.fromkeys(_SSSE3_NAMES, "ssse3")
    | {"cmpxchg8b": "cx8", "fxsave": "fxsr", "fxrstor": "fxsr", "clflush": "clflush"}
    | dict.fromkeys(("sfence", "lfence", "ldmxcsr", "stmxcsr"), "sse")
    | {"mfence": "sse2", "movnti": "sse2"}
    | {"popcnt": "popcnt", "movbe": "movbe", "crc32": "sse42"}
    # The real CPU is Unicorn's Broadwell (bt/engine.py: SMAP), which has these too; QEMU 7.2
    # checks each against CPUID, and none of the offered models reports them.
    | dict.fromkeys(("andn", "bextr", "blsi", "blsmsk", "blsr"), "bmi1")
    | dict.fromkeys(("bzhi", "mulx", "pdep", "pext", "rorx", "sarx", "shlx", "shrx"), "bmi2")
    | {"adcx": "adx", "adox": "adx", "rdrand": "rdrand", "rdseed": "rdseed"}
)
# Capstone's group of an instruction on XMM registers -> the feature it needs (SSE and SSE2:
# OSFXSR, above).
BY_GROUP: dict[int, str] = {
    X.X86_GRP_SSE3: "sse3",
    X.X86_GRP_SSSE3: "ssse3",
    X.X86_GRP_SSE41: "sse41",
    X.X86_GRP_SSE42: "sse42",
    X.X86_GRP_AES: "aes",
    X.X86_GRP_PCLMUL: "pclmulqdq",
}
# LZCNT and TZCNT without ABM / BMI1 are REP BSR / REP BSF (bt/callouts/bitscan.py).
AS_BITSCAN: dict[str, str] = {"lzcnt": "abm", "tzcnt": "bmi1"}
GATED = frozenset(BY_NAME.values()) | frozenset(BY_GROUP.values()) | frozenset(AS_BITSCAN.values())


class FeatureGate:
    """Which instructions the CPU model lacks, from the set of features it reports."""

    __slots__ = ("_names", "_bitscan", "_suspect", "_groups", "_xmm")

    def __init__(self, features: frozenset[str]) -> None:
        self._names = frozenset(n for n, f in BY_NAME.items() if f not in features)
        self._bitscan = frozenset(n for n, f in AS_BITSCAN.items() if f not in features)
        self._suspect = self._names | self._bitscan
        self._groups = frozenset(g for g, f in BY_GROUP.items() if f not in features)
        self._xmm = bool(self._groups)

    def suspect(self, mnemonic: str, op_str: str) -> bool:
        """Whether the instruction (as the light decoder prints it) may be one the model
        lacks: a cheap test, made for every instruction scanned."""
        return mnemonic.rsplit(" ", 1)[-1] in self._suspect or (self._xmm and "xmm" in op_str)

    def lacks(self, mnemonic: str, groups: list[int]) -> bool:
        """Whether the model lacks the instruction (its mnemonic and Capstone groups)."""
        if mnemonic.rsplit(" ", 1)[-1] in self._names:
            return True
        return any(g in self._groups for g in groups)

    def old_bitscan(self, mnemonic: str) -> bool:
        """Whether the instruction is LZCNT/TZCNT on a model where it is BSR/BSF."""
        return mnemonic in self._bitscan
