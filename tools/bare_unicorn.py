"""Runs a Multiboot guest directly on bare Unicorn at CPL 0, with no monitor: the speed limit.

Only port I/O is emulated (COM1 output, the 0xf4 exit port), by Unicorn instruction hooks;
everything else, sensitive instructions included, runs natively and unchecked. Guest paging is
Unicorn's own (its default TLB mode walks the guest's page tables: the speed limit for paging
guests), and CPU exceptions, which Unicorn never delivers, go through the guest's IDT as a CPU
at CPL 0 would take them (tools/bare_delivery.py). This is a yardstick for benchmarks, not a
virtual machine: what the guest observes is Unicorn's.
"""

from __future__ import annotations

import argparse
import ctypes
import mmap
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import capstone
from unicorn import (
    UC_ARCH_X86,
    UC_HOOK_BLOCK,
    UC_HOOK_INSN,
    UC_MODE_16,
    UC_MODE_32,
    UC_PROT_ALL,
    Uc,
)
from unicorn import x86_const as R

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bare_delivery import BareDelivery  # noqa: E402

from bt.loader import load_guest  # noqa: E402
from bt.paging import FETCH  # noqa: E402

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
    """Output, exit status, wall time, (when counted) guest instructions, exceptions taken."""

    output: bytes
    status: int | None
    seconds: float
    insns: int | None
    exceptions: int = 0  # delivered through the guest's IDT (tools/bare_delivery.py)
    delivery_seconds: float = 0.0  # of `seconds`, spent delivering them


def _ports(uc: Uc) -> tuple[bytearray, list[int]]:
    """COM1 output and the exit port, by instruction hooks: (output, [status])."""
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
    return out, status


def run_bare_real(path: str, mem_mib: int = 32) -> BareResult:
    """Run a boot sector (guests/bin/*.img) in real mode from 0000:7C00 to its exit-port
    write: Unicorn's 16-bit mode, nothing emulated but the ports (no interrupts, no BIOS)."""
    uc = Uc(UC_ARCH_X86, UC_MODE_16)
    uc.mem_map(0, mem_mib << 20, UC_PROT_ALL)
    uc.mem_write(0x7C00, Path(path).read_bytes())
    uc.ctl_exits_enabled(True)
    uc.ctl_set_exits([])
    out, status = _ports(uc)
    start = time.perf_counter()
    uc.emu_start(0x7C00, 0)
    seconds = time.perf_counter() - start
    return BareResult(bytes(out), status[0] if status else None, seconds, None)


def run_bare(path: str, mem_mib: int = 128, cmdline: str = "", count: bool = False) -> BareResult:
    """Run the guest at `path` to its exit-port write (or HLT)."""
    image = load_guest(path, mem_mib << 20, cmdline)
    uc = Uc(UC_ARCH_X86, UC_MODE_32)
    ram_map = mmap.mmap(-1, mem_mib << 20)  # RAM Unicorn uses in place: the delivery reads it
    uc.mem_map_ptr(
        0, mem_mib << 20, UC_PROT_ALL, ctypes.addressof(ctypes.c_char.from_buffer(ram_map))
    )
    # No end address: Unicorn's exit list, on and empty, ends a run only at a hook's emu_stop
    # (an unmapped end address would cost a failed walk after every stop, tools/bare_delivery.py).
    uc.ctl_exits_enabled(True)
    uc.ctl_set_exits([])
    for chunk in image.chunks:
        uc.mem_write(chunk.paddr, chunk.data)
    uc.reg_write(R.UC_X86_REG_GDTR, (0, image.gdtr[0], image.gdtr[1], 0))
    for reg, seg in zip(_SEGS, image.segments, strict=True):
        uc.reg_write(reg, seg.selector)
    for reg, val in zip(_GPRS, image.gpr, strict=True):
        uc.reg_write(reg, val)
    uc.reg_write(R.UC_X86_REG_EFLAGS, image.eflags)
    out, status = _ports(uc)
    delivery = BareDelivery(uc, memoryview(ram_map))
    counted = [0]
    if count:
        cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_32)
        sizes: dict[tuple[int, int], int] = {}

        def on_block(uc: Uc, address: int, size: int, _ud: object) -> None:
            n = sizes.get((address, size))
            if n is None:  # the code's bytes through the guest's page tables (kept by address)
                code = bytes(uc.mem_read(delivery.physical(address, FETCH), size))
                n = sizes[(address, size)] = sum(1 for _ in cs.disasm_lite(code, address))
            counted[0] += n

        uc.hook_add(UC_HOOK_BLOCK, on_block)
    start = time.perf_counter()
    eip = image.entry
    delivering = 0.0
    while True:
        uc.emu_start(eip, 0)  # the end address is unused: the exit list is on
        if delivery.pending is None or status:
            break
        t = time.perf_counter()
        eip = delivery.deliver()
        delivering += time.perf_counter() - t
    seconds = time.perf_counter() - start
    return BareResult(
        bytes(out),
        status[0] if status else None,
        seconds,
        counted[0] if count else None,
        delivery.delivered,
        delivering,
    )


def main() -> int:
    """Command line: run one guest bare and print its output and time."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("guest")
    ap.add_argument("--count", action="store_true", help="count guest instructions (slow)")
    args = ap.parse_args()
    if args.guest.endswith(".img"):
        res = run_bare_real(args.guest)
    else:
        res = run_bare(args.guest, count=args.count)
    sys.stdout.buffer.write(res.output)
    sys.stderr.write(
        f"bare unicorn: {res.seconds:.3f} s, status {res.status}, instructions {res.insns}, "
        f"exceptions delivered {res.exceptions} ({res.delivery_seconds:.3f} s)\n"
    )
    return res.status or 0


if __name__ == "__main__":
    sys.exit(main())
