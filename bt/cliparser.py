"""The `bt` command line's grammar: every subcommand's options, and one-line usage errors."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from bt import __version__
from bt.errors import OptionError
from bt.options import address, linear_range, number
from bt.runresult import EXIT_BAD_INPUT

DEFAULT_CACHE_MIB = 128  # cache/cache.py's DEFAULT_HOST_BUDGET (not imported: start-up time)


class BtParser(argparse.ArgumentParser):
    """argparse with one-line errors and status 2."""

    def error(self, message: str) -> NoReturn:
        sys.stderr.write(f"bt: error: {message} (try: {self.prog} --help)\n")
        sys.exit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = BtParser(
        prog="bt",
        description="Binary-translation virtual machine for x86 guests.",
        epilog="bt run exits with the guest's status: (V << 1) | 1 when it writes V "
        "to port 0xf4, 0 when it halts or the built-in demo succeeds, 2 bad "
        "input, 4 guest crash, 6 limit reached, 70 internal error.",
    )
    parser.add_argument("--version", action="version", version=f"bt {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=BtParser)
    run = sub.add_parser("run", help="run a guest (the built-in demo when none is given)")
    run.add_argument(
        "guest",
        nargs="?",
        help="Linux bzImage, Multiboot ELF kernel, flat binary (--load-addr) or disk image to "
        "boot (a floppy when its size is a floppy format's, else a hard disk)",
    )
    run.add_argument(
        "--kernel",
        metavar="FILE",
        help="the kernel to boot, as QEMU's -kernel (a bzImage or a Multiboot kernel; the "
        "same as giving it as GUEST)",
    )
    run.add_argument(
        "--initrd", metavar="FILE", help="the initial ramdisk of a Linux kernel, as QEMU's -initrd"
    )
    run.add_argument("--mem", type=number, default=128, metavar="MIB", help="guest RAM (128)")
    run.add_argument("--append", default="", metavar="STR", help="kernel command line")
    run.add_argument(
        "--serial",
        default="stdio",
        metavar="stdio|file:PATH|none",
        help="where COM1 output goes (stdio)",
    )
    run.add_argument(
        "--debugcon",
        default="none",
        metavar="stdio|file:PATH|none",
        help="where the bytes written to port 0xe9 go, as QEMU's -debugcon (none)",
    )
    run.add_argument(
        "--max-insns",
        type=number,
        metavar="N",
        help="stop after N guest instructions (counts instructions: slower)",
    )
    run.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after this long")
    run.add_argument("--stats", action="store_true", help="print engine statistics on stderr")
    run.add_argument(
        "--count-insns",
        action="store_true",
        help="count guest instructions exactly for --stats (slower)",
    )
    run.add_argument("--no-chain", action="store_true", help="never chain translated blocks")
    run.add_argument(
        "--no-inline",
        action="store_true",
        help="call the monitor for every sensitive instruction (no inline emulation)",
    )
    run.add_argument(
        "--trace", metavar="FILE", help="record what the guest executes (bt-trace; .gz compresses)"
    )
    run.add_argument(
        "--trace-level",
        choices=("block", "insn"),
        default="block",
        help="one record per guest block (default) or per instruction",
    )
    run.add_argument(
        "--trace-filter",
        type=linear_range,
        metavar="RANGE",
        help="record only code at linear addresses in RANGE (START+SIZE or START..END, as "
        "QEMU's -dfilter); a disk boot records conventional memory 0x500..0x9fbff, so each "
        "BIOS call is one step",
    )
    run.add_argument(
        "--vga-dump",
        action="store_true",
        help="print the final VGA text screen (80x25) after the run",
    )
    run.add_argument(
        "--realtime",
        action="store_true",
        help="device time follows the host clock (default: virtual, reproducible)",
    )
    run.add_argument(
        "--keys",
        metavar="FILE",
        help="type the text of FILE on the guest's keyboard (IRQ 1); without it, "
        "keys typed on a terminal stdin go to the guest",
    )
    run.add_argument(
        "--display", action="store_true", help="show the VGA text screen live in the terminal"
    )
    run.add_argument(
        "--cpu",
        default="qemu32",
        metavar="NAME",
        help="the CPU model the guest sees, as QEMU's -cpu NAME (qemu32); `--cpu help` lists them",
    )
    run.add_argument(
        "--machine",
        choices=("pc", "isapc"),
        default="pc",
        help="the PC the guest runs on, as QEMU's -M: pc (i440FX, PIIX3, APICs, PCI; the "
        "default) or isapc (ISA only: 8259s, PIT, UART, CMOS, i8042, VGA text)",
    )
    run.add_argument(
        "--cache-size",
        type=number,
        default=DEFAULT_CACHE_MIB,
        metavar="MIB",
        help="host memory the translation cache may use, code and records "
        f"({DEFAULT_CACHE_MIB}); full, it is flushed whole",
    )
    run.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="keep translations in DIR between runs (stale ones are never used)",
    )
    run.add_argument(
        "--save-cache",
        metavar="FILE",
        help="write the translation cache to FILE (SQLite) at the end of the run",
    )
    run.add_argument(
        "--inspect",
        action="store_true",
        help="open the translation-cache inspector at the end of the run",
    )
    run.add_argument(
        "--load-addr",
        type=address,
        metavar="ADDR",
        help="load GUEST as a flat binary at ADDR (0x100000, 1048576, 1M)",
    )
    run.add_argument(
        "--entry",
        type=address,
        metavar="ADDR",
        help="entry point of a flat binary (default: --load-addr)",
    )
    run.add_argument(
        "--bios",
        metavar="FILE",
        help="run the firmware ROM FILE from the reset vector, as QEMU's -bios (a multiple of "
        "64 KiB, ending at 4 GiB; its last 128 KiB also below 1 MiB); the ROM is the whole guest",
    )
    for drive, what in (
        ("fda", "floppy drive A:"),
        ("fdb", "floppy drive B:"),
        ("hda", "hard disk C: (the first IDE master)"),
        ("hdb", "the second hard disk (the first IDE slave)"),
        ("hdc", "the secondary IDE master"),
        ("hdd", "the secondary IDE slave"),
    ):
        run.add_argument(f"--{drive}", metavar="IMG", help=f"raw image in {what}")
    run.add_argument(
        "--boot",
        choices=("a", "c"),
        help="boot from drive A: or hard disk C: (default: the guest image's drive, "
        "else C: when there is a hard disk)",
    )
    run.add_argument(
        "--snapshot",
        action="store_true",
        help="keep the guest's disk writes in memory, never in the image files",
    )
    inspect = sub.add_parser("inspect", help="browse or export a saved translation cache")
    inspect.add_argument("file", help="a cache file written by bt run --save-cache")
    inspect.add_argument("--html", metavar="OUT", help="write a self-contained HTML report")
    inspect.add_argument("--dot", metavar="OUT", help="write the chain graph for Graphviz")
    inspect.add_argument(
        "--drcov", metavar="OUT", help="write drcov coverage (and hit counts to OUT.hits.csv)"
    )
    trace = sub.add_parser("trace", help="work with execution traces")
    tsub = trace.add_subparsers(dest="trace_command", parser_class=BtParser)
    qemu = tsub.add_parser(
        "qemu", help="record QEMU's instruction trace of a Multiboot kernel or a disk boot"
    )
    qemu.add_argument(
        "kernel", help="a Multiboot kernel (ELF or a.out kludge) or a disk image to boot"
    )
    qemu.add_argument(
        "-o", "--out", required=True, metavar="FILE", help="the bt-trace to write (.gz compresses)"
    )
    qemu.add_argument("--mem", type=number, default=128, metavar="MIB", help="guest RAM (128)")
    qemu.add_argument("--append", default="", metavar="STR", help="kernel command line")
    qemu.add_argument(
        "--hda", metavar="IMG", help="a hard disk attached besides the floppy image booted"
    )
    qemu.add_argument(
        "--icount",
        action="store_true",
        help="QEMU's time from instructions executed (-icount shift=0): for "
        "kernels that read the PIT or wait for timer interrupts",
    )
    qemu.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="give up when QEMU runs longer (300)",
    )
    diff = tsub.add_parser("diff", help="report the first divergence between two traces")
    diff.add_argument("a", help="a bt-trace file (.gz for gzip)")
    diff.add_argument("b", help="another bt-trace file")
    diff.add_argument(
        "--ignore", default="", metavar="REG,...", help="registers not to compare (e.g. eflags,cr3)"
    )
    diff.add_argument(
        "--start-at",
        type=address,
        metavar="ADDR",
        help="start comparing at the first record at guest address ADDR",
    )
    diff.add_argument(
        "--nondet",
        action="append",
        default=[],
        metavar="START-END",
        help="a guest address range whose results differ by design (RDTSC): "
        "compared by address only; the values it leaves different count "
        "as equal from then on (repeatable)",
    )
    diff.add_argument(
        "--context",
        type=number,
        default=5,
        metavar="N",
        help="records shown before the divergence (5)",
    )
    return parser


def nondet_range(spec: str) -> tuple[int, int]:
    """`--nondet START-END` as two addresses."""
    lo, sep, hi = spec.partition("-")
    try:
        start, end = int(lo, 0), int(hi, 0)
    except ValueError:
        start, end = 0, -1
    if not sep or end <= start:
        raise OptionError(f"--nondet: expected START-END with START < END, got {spec!r}")
    return start, end
