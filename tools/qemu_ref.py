"""Run the guests under qemu-system-i386 and record their serial output and exit status."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = ROOT / "guests" / "bin"
EXPECTED_DIR = ROOT / "guests" / "expected"

QEMU = "qemu-system-i386"
# The reference machine: QEMU's pc machine, 128 MiB, COM1 on stdio, isa-debug-exit at 0xf4
# (exit status (V << 1) | 1), debugcon on 0xe9 so port 0xe9 reads back 0xe9.
BASE_OPTIONS: dict[str, str] = {
    "-serial": "stdio",
    "-display": "none",
    "-device": "isa-debug-exit,iobase=0xf4,iosize=4",
    "-debugcon": "file:/dev/null",
    "-m": "128",
}
BASE_ARGS: tuple[str, ...] = (*(x for kv in BASE_OPTIONS.items() for x in kv), "-no-reboot")

# Per-guest extra QEMU arguments: the one table to edit when a guest wants something more.
GUEST_ARGS: dict[str, tuple[str, ...]] = {
    "ckernel": ("-append", "bt test cmdline"),
    # The serial benchmarks print 4 MiB by default; the reference holds four periods.
    "serialout": ("-append", "16384"),
    "serialpoll": ("-append", "16384"),
    # The firmware tables of the machine's own devices: no default NIC (bt's pc has none).
    "fwtables": ("-nic", "none"),
    # pci lists bus 0 and the BIOS shadow area: without a NIC (QEMU's default e1000 at 00:03.0)
    # and without the TCG vapic option ROM, which maps its page at 0xCC000 writable over what
    # the PAM registers say (hw/i386/kvmvapic.c): this machine has neither.
    "pci": ("-nic", "none", "-global", "apic-common.vapic=off"),
}

# Guests also referenced on QEMU's isapc machine: the reference "isapc/NAME" (in
# guests/expected/isapc/) is guests/bin/NAME.elf run with `-M isapc -cpu 486` (isapc's default
# CPU; bt: `--machine isapc --cpu 486`).
ISAPC_GUESTS = ("fwtables",)
ISAPC_ARGS = ("-M", "isapc", "-cpu", "486")

# Guests also referenced under other CPU models: the reference "NAME@MODEL" is guests/bin/NAME.elf
# run with `-cpu MODEL` (bt: `--cpu MODEL`); plain "NAME" is the default model, qemu32.
CPU_VARIANTS: dict[str, tuple[str, ...]] = {
    "cpumodel": ("486", "pentium", "pentium2", "pentium3", "kvm32", "n270", "coreduo"),
    "nx": ("n270", "coreduo"),  # the models with NX
}
# Guests also referenced on another machine type: "NAME@MACHINE" is `-M MACHINE` (bt:
# `--machine MACHINE`); plain "NAME" is QEMU's default, pc.
MACHINE_VARIANTS: dict[str, tuple[str, ...]] = {"pci": ("isapc",)}
MACHINES = frozenset({"pc", "isapc"})

DEFAULT_TIMEOUT = 60.0
FLOPPY_SIZE = 1474560

# Where QEMU 7.2 deviates from the Intel SDM, the reference holds what the SDM says: these
# guests' output is corrected before it is written or compared (guests/README.md lists them).
PF_ERR = re.compile(rb"(#PF cr2=0x[0-9a-f]{8} err=0x)([0-9a-f]{2})")
RSVD_GUESTS = ("paging", "paging_user", "pae")


def _rsvd_implies_p(m: re.Match[bytes]) -> bytes:
    """SDM 4.7: "bit 3 of the error code can be set only if bit 0 is also set"; QEMU 7.2
    reports a reserved-bit #PF without P."""
    err = int(m.group(2), 16)
    if err & 0x08:
        err |= 0x01
    return m.group(1) + b"%02x" % err


def elf_symbol(name: str, symbol: str) -> int:
    """The address of a symbol in guests/bin/<name>.elf."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    with (BIN_DIR / f"{name}.elf").open("rb") as fh:
        for sec in ELFFile(fh).iter_sections():
            if isinstance(sec, SymbolTableSection):
                for sym in sec.iter_symbols():
                    if sym.name == symbol:
                        return int(sym["st_value"])
    raise KeyError(f"{symbol} not in {name}.elf")


def sdm_corrected(name: str, serial: bytes) -> bytes:
    """QEMU's output of `name` with its known deviations from the SDM replaced."""
    if name in RSVD_GUESTS:
        serial = PF_ERR.sub(_rsvd_implies_p, serial)
    if name == "pae":
        # SDM 4.4.1: PAE paging uses the PDPTEs loaded at the last MOV CR3; QEMU 7.2 reads them
        # from memory at every walk, so a PDPTE made present in memory is seen at once there.
        # On the SDM's CPU (and Bochs) the read at pdpte_read faults; the #PF fix reloads CR3.
        eip = elf_symbol(name, "pdpte_read")
        head = b"PDPT[1] made present without MOV CR3\n"
        fault = b"  #PF cr2=0x40100000 err=0x00 eip=0x%08x\n" % eip
        if head + fault not in serial:
            serial = serial.replace(head, head + fault)
            serial = re.sub(
                rb"done page_faults=(\d+)",
                lambda m: b"done page_faults=%d" % (int(m[1]) + 1),
                serial,
            )
    if name == "singlestep":
        # SDM 6.8.3: only MOV SS and POP SS hold back the single-step trap after them (Bochs:
        # STI inhibits interrupts only); QEMU 7.2 also skips the #DB after STI.
        line = b" #DB eip=0x%08x\n" % elf_symbol(name, "sti_next")
        head = b"sti under TF\n"
        if head + line not in serial:
            serial = serial.replace(head, head + line)
            serial = re.sub(
                rb"steps=0x([0-9a-f]{8})",
                lambda m: b"steps=0x%08x" % (int(m[1], 16) + 1),
                serial,
            )
    if name == "watchpoints":
        serial = _watchpoints_sdm(serial)
    return serial


def _watchpoints_sdm(serial: bytes) -> bytes:
    """The SDM's lines in watchpoints' last section, where QEMU 7.2 departs from it.

    SDM 17.2.4: DR6 B0-B3 name every breakpoint an access matched (QEMU stops at the first
    watchpoint that matches and names it alone). SDM 17.2.5: DRn's low bits are masked by LEN
    (QEMU watches [DRn, DRn + LEN) as it is, so its unaligned DR0 misses). SDM 17.3.1.4 and
    table 6-2: the single-step trap and a data breakpoint's after one instruction are one #DB
    with BS and B0 (QEMU takes the step's and then the watchpoint's at the handler's first
    instruction: two lines become one)."""

    def at(label: str) -> bytes:
        return b" #DB eip=0x%08x  dr6=" % elf_symbol("watchpoints", label)

    masked = at("masked_next") + b"0xffff0ff1  ecx=0x00000000\n"
    if masked in serial:
        return serial
    several = re.escape(at("several_next")) + rb"0xffff0ff1(  ecx=0x[0-9a-f]{8}\n)"
    serial = re.sub(several, lambda m: at("several_next") + b"0xffff0ff3" + m[1] + masked, serial)
    twice = (
        rb" #DB eip=0x[0-9a-f]{8}  dr6=0xffff4ff1(  ecx=0x[0-9a-f]{8}\n)"
        + re.escape(at("step_watch_next"))
        + rb"0xffff0ff0  ecx=0x[0-9a-f]{8}\n"
    )
    serial, joined = re.subn(twice, lambda m: at("step_watch_next") + b"0xffff4ff1" + m[1], serial)
    # One #DB more (the masked range's), one fewer where the two were joined.
    return re.sub(
        rb"hits=0x([0-9a-f]{8})", lambda m: b"hits=0x%08x" % (int(m[1], 16) + 1 - joined), serial
    )


@dataclass(frozen=True, slots=True)
class RefResult:
    """What one guest printed on COM1 and how QEMU exited."""

    name: str
    serial: bytes
    status: int


def run_guest(name: str, timeout: float) -> RefResult:
    """Boot guests/bin/<name>.elf (or the boot sector <name>.img) under QEMU
    (`<name>@<model>`: with `-cpu <model>`; `<name>@<machine>`: with `-M <machine>`;
    `isapc/<name>`: on the isapc machine with its default CPU, the 486).

    The kernel is named relative to guests/bin so that the Multiboot command line QEMU builds
    ("<kernel> <append>") does not depend on where the checkout lives.
    """
    machine, _, plain = name.rpartition("/")
    binary, _, cpu = plain.partition("@")
    kernel = BIN_DIR / f"{binary}.elf"
    sector = BIN_DIR / f"{binary}.img"
    cpu_args = ("-M" if cpu in MACHINES else "-cpu", cpu) if cpu else ()
    if machine == "isapc":
        cpu_args = ISAPC_ARGS
    with tempfile.TemporaryDirectory() as tmp:
        if kernel.is_file():
            boot: tuple[str, ...] = ("-kernel", kernel.name)
        elif sector.is_file():
            # A boot sector (real mode): SeaBIOS boots it from a 1.44 MB floppy made of it.
            floppy = Path(tmp) / "floppy.img"
            floppy.write_bytes(sector.read_bytes().ljust(FLOPPY_SIZE, b"\0"))
            boot = ("-drive", f"file={floppy},format=raw,if=floppy")
        else:
            raise FileNotFoundError(f"no guest binary {kernel} or {sector}")
        cmd = [QEMU, *boot, *BASE_ARGS, *cpu_args, *GUEST_ARGS.get(binary, ())]
        proc = subprocess.run(
            cmd,
            cwd=BIN_DIR,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    return RefResult(name=name, serial=sdm_corrected(name, proc.stdout), status=proc.returncode)


# Guests whose lines starting with "~" carry the machine's rates (QEMU's TSC is the host's): their
# reference is <name>.qemu, compared without those lines by their own tests (tests/test_tsc.py).
# Their other lines are checks a host's scheduling delays can fail: record them on a quiet host.
HOST_TIMED = frozenset({"tsc"})


def serial_file(name: str) -> Path:
    """The reference file of guest `name`'s serial output."""
    return EXPECTED_DIR / f"{name}.{'qemu' if name in HOST_TIMED else 'serial'}"


def comparable(name: str, serial: bytes) -> bytes:
    """What of `serial` must equal the reference: all of it but a HOST_TIMED guest's rates."""
    if name not in HOST_TIMED:
        return serial
    return b"".join(line for line in serial.splitlines(True) if not line.startswith(b"~"))


def write_expected(result: RefResult) -> None:
    """Store guests/expected/<name>.serial (exact bytes) and <name>.status (decimal)."""
    (EXPECTED_DIR / result.name).parent.mkdir(parents=True, exist_ok=True)
    serial_file(result.name).write_bytes(result.serial)
    (EXPECTED_DIR / f"{result.name}.status").write_text(f"{result.status}\n")


# Guests with no QEMU reference: what they test QEMU 7.2 gets wrong (their tests say what).
BT_ONLY = frozenset({"tasks_ts"})
# Guests whose reference another tool makes (they need disks): tools/qemu_ide_ref.py.
OWN_TOOL = frozenset({"ide"})


def all_guests() -> list[str]:
    """Names of every built guest and of its CPU-model variants, sorted."""
    found = (*BIN_DIR.glob("*.elf"), *BIN_DIR.glob("*.img"))
    names = [p.stem for p in found if p.stem not in BT_ONLY | OWN_TOOL]
    variants = {n: CPU_VARIANTS.get(n, ()) + MACHINE_VARIANTS.get(n, ()) for n in names}
    listed = [f"{n}@{v}" for n in names for v in variants[n]]
    return sorted(names + listed + [f"isapc/{n}" for n in ISAPC_GUESTS if n in names])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("guests", nargs="*", help="guest names (default: every guests/bin/*.elf)")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per guest (default 60)"
    )
    parser.add_argument(
        "--check", action="store_true", help="compare with guests/expected instead of writing"
    )
    args = parser.parse_args(argv)

    names: list[str] = args.guests or all_guests()
    failures = 0
    for name in names:
        try:
            result = run_guest(name, args.timeout)
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        except subprocess.TimeoutExpired:
            print(f"{name}: timed out after {args.timeout:g} s, nothing written", file=sys.stderr)
            failures += 1
            continue
        lines = result.serial.count(b"\n")
        if args.check:
            if not (EXPECTED_DIR / f"{name}.status").is_file():
                print(f"error: no reference for {name} in {EXPECTED_DIR}", file=sys.stderr)
                failures += 1
                continue
            want_serial = serial_file(name).read_bytes()
            want_status = int((EXPECTED_DIR / f"{name}.status").read_text())
            same = comparable(name, result.serial) == comparable(name, want_serial)
            same = same and result.status == want_status
            print(f"{name}: status {result.status}, {lines} lines, {'same' if same else 'DIFFERS'}")
            failures += not same
        else:
            write_expected(result)
            print(f"{name}: status {result.status}, {lines} lines")
        if result.status != 1:
            print(f"{name}: warning: status {result.status} is not a clean exit", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
