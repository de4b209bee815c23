"""Runs a Multiboot guest directly on bare Unicorn at CPL 0, with no monitor: the speed limit.

Only port I/O is emulated (COM1 output, the 0xf4 exit port), by Unicorn instruction hooks;
everything else, sensitive instructions included, runs natively and unchecked. This is a
yardstick for benchmarks, not a virtual machine: what the guest observes is Unicorn's.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import capstone
from unicorn import UC_ARCH_X86, UC_HOOK_BLOCK, UC_HOOK_INSN, UC_MODE_32, Uc
from unicorn import x86_const as R

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bt.loader import load_guest  # noqa: E402

_SEGS = (
    R.UC_X86_REG_ES,
    R.UC_X86_REG_CS,
    R.UC_X86_REG_SS,
    R.UC_X86_REG_DS,
    R.UC_X86_REG_FS,
    R.UC_X86_REG_GS,
)
_GPRS = (
    R.UC_X86_REG_EAX,
    R.UC_X86_REG_ECX,
    R.UC_X86_REG_EDX,
    R.UC_X86_REG_EBX,
    R.UC_X86_REG_ESP,
    R.UC_X86_REG_EBP,
    R.UC_X86_REG_ESI,
    R.UC_X86_REG_EDI,
)


@dataclass(frozen=True, slots=True)
class BareResult:
    """Output, exit status, wall time and (when counted) guest instructions."""

    output: bytes
    status: int | None
    seconds: float
    insns: int | None


def run_bare(path: str, mem_mib: int = 128, cmdline: str = "", count: bool = False) -> BareResult:
    """Run the guest at `path` to its exit-port write (or HLT)."""
    image = load_guest(path, mem_mib << 20, cmdline)
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    uc.mem_map(0, mem_mib << 20)
    for chunk in image.chunks:
        uc.mem_write(chunk.paddr, chunk.data)
    uc.reg_write(R.UC_X86_REG_GDTR, (0, image.gdtr[0], image.gdtr[1], 0))
    for reg, seg in zip(_SEGS, image.segments, strict=True):
        uc.reg_write(reg, seg.selector)
    for reg, val in zip(_GPRS, image.gpr, strict=True):
        uc.reg_write(reg, val)
    uc.reg_write(R.UC_X86_REG_EFLAGS, image.eflags)
    out = bytearray()
    status: list[int] = []

    def on_in(uc: Uc, port: int, size: int, _ud: object) -> int:
        return 0x60 if port == 0x3FD else 0xFF

    def on_out(uc: Uc, port: int, size: int, value: int, _ud: object) -> None:
        if port == 0x3F8:
            out.append(value & 0xFF)
        elif port == 0xF4:
            status.append(((value << 1) | 1) & 0xFF)
            uc.emu_stop()

    uc.hook_add(UC_HOOK_INSN, on_in, None, 1, 0, R.UC_X86_INS_IN)
    uc.hook_add(UC_HOOK_INSN, on_out, None, 1, 0, R.UC_X86_INS_OUT)
    counted = [0]
    if count:
        cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        sizes: dict[tuple[int, int], int] = {}

        def on_block(uc: Uc, address: int, size: int, _ud: object) -> None:
            n = sizes.get((address, size))
            if n is None:
                code = bytes(uc.mem_read(address, size))
                n = sizes[(address, size)] = sum(1 for _ in cs.disasm_lite(code, address))
            counted[0] += n

        uc.hook_add(UC_HOOK_BLOCK, on_block)
    start = time.perf_counter()
    uc.emu_start(image.entry, 0xFFFFFFFF)
    seconds = time.perf_counter() - start
    return BareResult(
        bytes(out), status[0] if status else None, seconds, counted[0] if count else None
    )


def main() -> int:
    """Command line: run one guest bare and print its output and time."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("guest")
    ap.add_argument("--count", action="store_true", help="count guest instructions (slow)")
    args = ap.parse_args()
    res = run_bare(args.guest, count=args.count)
    sys.stdout.buffer.write(res.output)
    sys.stderr.write(
        f"bare unicorn: {res.seconds:.3f} s, status {res.status}, instructions {res.insns}\n"
    )
    return res.status or 0


if __name__ == "__main__":
    sys.exit(main())
