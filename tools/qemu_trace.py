"""Records the bundled guests' execution under QEMU as bt-trace references (instruction level).

    python tools/qemu_trace.py [GUEST ...] [--out DIR]

Each guest's trace goes to guests/traces/<name>.trace.gz, recorded by bt.qemutrace, which is
also `bt trace qemu KERNEL -o OUT` for any Multiboot kernel (see its docstring for how). The
boot guests named in BOOT_GUESTS (guests/boot/) go to guests/traces/boot/<name>.trace.gz: their
disk images booted by SeaBIOS, from the boot sector's entry on, conventional memory only, so
each BIOS call is one step (`bt trace qemu IMG -o OUT`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bt.qemutrace import record_qemu_trace  # noqa: E402

BIN = ROOT / "guests" / "bin"
OUT = ROOT / "guests" / "traces"
# Small guests only: an instruction-level log costs ~900 bytes per instruction before conversion.
# pcdevices reads the PIT and platform takes timer interrupts: QEMU runs them with -icount
# (time from instructions executed, 1 ns each) instead of its host-time clock, so the PIT state
# they read is reproducible and a tick falls due only while the guest waits in HLT, as under bt.
GUESTS = (
    "flags",
    "descriptors",
    "segments",
    "control",
    "io",
    "interrupts",
    "smc",
    "isolation",
    "usermode",
    "fidelity",
    "escape",
    "demo",
    "platform",
    "pcdevices",
    "sysenter",
    "singlestep",
    "debugregs",
    "watchpoints",
    "paging",
    "paging_user",
    "paging_faults",
    "pae",
    "hhkernel",
    "cpumodel",
    "cpumodel@pentium",  # NAME@MODEL: guests/bin/NAME.elf under `-cpu MODEL` (tools/qemu_ref.py)
    "cpumodel@n270",
    "nx@n270",
)
# Boot guests whose trace equals bt's. Not here: bios reads the tick count and the time (bt's
# virtual clock and QEMU's -icount clock differ by the BIOS's own instructions, which are not
# the same code), disk prints the diskette parameter table through the ES:DI that INT 13h
# AH=08h returns (SeaBIOS's table lies at an address of its build, F000:601C; bt's at the
# classic F000:EFC7, which IVT[1Eh] names under both), keys waits for typed keys.
BOOT_GUESTS = ("hello", "modes", "thunk")
BOOT_DIR = ROOT / "guests" / "boot"
ICOUNT = ("-icount", "shift=0")
# The paging guests also run code outside their image (copied to test pages below 16 MiB): a
# second -dfilter replaces the image-only one. SeaBIOS's relocated code sits near the top of
# RAM (128 MiB), outside the range.
LOW_16M = ("-dfilter", "0x100000+0xf00000")
GUEST_ARGS: dict[str, tuple[str, ...]] = {
    "platform": ICOUNT,
    "pcdevices": ICOUNT,
    "paging": LOW_16M,
    "paging_user": LOW_16M,
    "paging_faults": LOW_16M,
    "pae": LOW_16M,
    "nx": LOW_16M,
    # hhkernel starts at its physical entry, runs at 0xC0100000 and its user program at 0x08048000.
    "hhkernel": ("-dfilter", "0x100000+0x10000,0xc0100000+0x10000,0x8048000+0x1000"),
}


def record(name: str, out_dir: Path) -> int:
    """Make <out_dir>/<name>.trace.gz; returns the number of records."""
    out_dir.mkdir(parents=True, exist_ok=True)
    binary, _, cpu = name.partition("@")
    return record_qemu_trace(
        str(BIN / f"{binary}.elf"),
        str(out_dir / f"{name}.trace.gz"),
        extra_args=GUEST_ARGS.get(binary, ()) + (("-cpu", cpu) if cpu else ()),
    )


def record_boot(name: str, out_dir: Path) -> int:
    """Make <out_dir>/boot/<name>.trace.gz from guests/boot/<name>.img; returns the count."""
    (out_dir / "boot").mkdir(parents=True, exist_ok=True)
    return record_qemu_trace(
        str(BOOT_DIR / f"{name}.img"), str(out_dir / "boot" / f"{name}.trace.gz")
    )


def main() -> int:
    """Record every guest named (all small guests and the boot guests by default)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("guests", nargs="*", default=[*GUESTS, *BOOT_GUESTS])
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    for name in args.guests:
        out = Path(args.out)
        n = record_boot(name, out) if name in BOOT_GUESTS else record(name, out)
        print(f"{name}: {n} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
