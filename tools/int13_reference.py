"""INT 13h against QEMU: boot guests/disk/int13probe under qemu-system-i386 (SeaBIOS) with a set
of disk images, make the same calls on bt's Int13 over the same images, and diff the lines.

Each configuration attaches floppies and hard disks as QEMU's -fda/-fdb/-hda/-hdb; the first
image holds the probe (8 sectors), every other sector k of an image holds the dword
(tag << 24 | k) 128 times, so a line shows which sectors a read brought. Both sides use
-snapshot / snapshot=True, so the images are never changed.

Run: python tools/int13_reference.py [CONFIG ...]; exit status 0 when every line is equal.
"""

from __future__ import annotations

import argparse
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bt.bios.api import BiosCall
from bt.bios.biosdrive import BiosDrive
from bt.bios.edd import FarPtr
from bt.bios.int13 import Int13
from bt.devices.diskimage import FLOPPY, HARD_DISK, DiskImage

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "guests" / "bin" / "int13probe.bin"
CALLS = ROOT / "guests" / "disk" / "int13calls.inc"
QEMU = "qemu-system-i386"
PARM = 0x500
KIB = 1024


@dataclass(frozen=True, slots=True)
class Disk:
    """One image of a configuration: its QEMU option, size and an MBR partition to guess from."""

    option: str  # -fda, -fdb, -hda, -hdb
    size: int  # bytes
    end_head: int = 0  # a partition entry ending at this head and sector 63 (0: none)


CONFIGS: dict[str, tuple[Disk, ...]] = {
    "floppies": (Disk("-fda", 1440 * KIB), Disk("-fdb", 360 * KIB), Disk("-hda", 10 << 20)),
    "drives": (
        Disk("-fda", 720 * KIB),
        Disk("-fdb", 2880 * KIB),
        Disk("-hda", 10 << 20),
        Disk("-hdb", 600 << 20),
    ),
    "small": (Disk("-fda", 160 * KIB), Disk("-fdb", 1200 * KIB), Disk("-hda", 4 << 20, 15)),
    "odd": (Disk("-fda", 180 * KIB), Disk("-fdb", 320 * KIB), Disk("-hda", 64 << 20, 254)),
    "dmf": (Disk("-fda", 1680 * KIB), Disk("-hda", 2 << 30)),
    "harddisk": (Disk("-hda", 10 << 20), Disk("-hdb", 3 << 30)),
}


def calls() -> list[list[int]]:
    """The probe's calls, from the file it includes: 15 words each."""
    out = []
    for line in CALLS.read_text().splitlines():
        if line.startswith("rec "):
            out.append([int(w, 0) for w in line[4:].split(",")])
    return out


def make_images(where: Path, config: Sequence[Disk]) -> list[Path]:
    """The configuration's image files (sparse where nothing is written)."""
    probe = PROBE.read_bytes()
    paths = []
    for tag, disk in enumerate(config, start=1):
        path = where / f"disk{tag}.img"
        with path.open("wb") as fh:
            fh.truncate(disk.size)
            count = min(disk.size // 512, 4096)  # the pattern in the first 2 MiB
            fh.write(b"".join(struct.pack("<I", tag << 24 | k) * 128 for k in range(count)))
            fh.seek(disk.size - 64 * 512)  # and the last 64 sectors
            last = disk.size // 512 - 64
            fh.write(
                b"".join(struct.pack("<I", tag << 24 | k) * 128 for k in range(last, last + 64))
            )
            if tag == 1:
                fh.seek(0)
                fh.write(probe)
            if disk.end_head:
                entry = struct.pack("<BBBBBBBBII", 0x80, 1, 1, 0, 0x83, disk.end_head, 63, 0, 63, 1)
                fh.seek(0x1BE)
                fh.write(entry)
                fh.seek(510)
                fh.write(b"\x55\xaa")
        paths.append(path)
    return paths


def run_qemu(config: Sequence[Disk], paths: Sequence[Path], timeout: float = 60.0) -> list[str]:
    """The probe's lines under QEMU."""
    out = paths[0].parent / "debugcon.txt"
    boot = "a" if config[0].option.startswith("-fd") else "c"
    drives = [x for disk, path in zip(config, paths, strict=True) for x in (disk.option, str(path))]
    cmd = [
        QEMU, "-display", "none", "-serial", "none", "-parallel", "none", "-monitor", "none",
        "-m", "16", "-no-reboot", "-snapshot", "-boot", boot, *drives,
        "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-debugcon", f"file:{out}",
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
    return out.read_text(errors="replace").splitlines()


class ProbeCpu:
    """The registers of the probe's INT 13h call and a flat 2 MiB memory (bt.bios.api)."""

    SUBS = {"al": ("ax", 0, 0xFF), "ah": ("ax", 8, 0xFF), "bl": ("bx", 0, 0xFF),
            "bh": ("bx", 8, 0xFF), "cl": ("cx", 0, 0xFF), "ch": ("cx", 8, 0xFF),
            "dl": ("dx", 0, 0xFF), "dh": ("dx", 8, 0xFF)}  # fmt: skip

    def __init__(self) -> None:
        self.regs = dict.fromkeys(("ax", "bx", "cx", "dx", "si", "di"), 0)
        self.segs = dict.fromkeys(("es", "cs", "ss", "ds", "fs", "gs"), 0)
        self.cf = False
        self.ram = bytearray(2 << 20)

    def reg(self, name: str) -> int:
        if name in self.SUBS:
            full, shift, mask = self.SUBS[name]
            return self.regs[full] >> shift & mask
        return self.regs[name[-2:]] & 0xFFFF

    def set_reg(self, name: str, value: int) -> None:
        if name in self.SUBS:
            full, shift, mask = self.SUBS[name]
            self.regs[full] = self.regs[full] & ~(mask << shift) | (value & mask) << shift
        else:
            self.regs[name[-2:]] = value & 0xFFFF

    def seg(self, name: str) -> int:
        return self.segs[name]

    def set_seg(self, name: str, selector: int) -> None:
        self.segs[name] = selector & 0xFFFF

    def linear(self, seg: str, offset: int) -> int:
        return (self.segs[seg] << 4) + (offset & 0xFFFF)

    def flag(self, name: str) -> bool:
        return self.cf if name == "cf" else False

    def set_flag(self, name: str, value: bool) -> None:
        if name == "cf":
            self.cf = value

    def read_phys(self, phys: int, n: int) -> bytes:
        return bytes(self.ram[phys : phys + n])

    def write_phys(self, phys: int, data: bytes) -> None:
        self.ram[phys : phys + len(data)] = data

    def read(self, port: int, size: int) -> int:
        return 0xFF

    def write(self, port: int, size: int, value: int) -> None:
        pass


def _line(cpu: ProbeCpu, rec: Sequence[int], was_48: bool) -> str:
    regs = [cpu.regs[r] for r in ("ax", "bx", "cx", "dx", "si", "di")]
    words = [*regs, cpu.segs["es"], int(cpu.cf)]
    parts = ["R" + "".join(f" {w:04x}" for w in words), "P" + "".join(
        f" {b:02x}" for b in cpu.ram[PARM : PARM + 80])]  # fmt: skip
    buf = (rec[4] << 4) + rec[1]
    dwords = []
    for k in range(4):
        base = buf + 512 * k
        first, last = struct.unpack_from("<I", cpu.ram, base)[0], struct.unpack_from(
            "<I", cpu.ram, base + 508)[0]  # fmt: skip
        dwords += [f"{first:08x}", f"{last:08x}"]
    parts.append("B " + " ".join(dwords))
    parts.append("S" + "".join(f" {cpu.ram[a]:02x}" for a in (0x441, 0x474, 0x48E)))
    size = struct.unpack_from("<H", cpu.ram, PARM)[0]
    if was_48 and size >= 30 and not cpu.cf:
        off, seg = struct.unpack_from("<HH", cpu.ram, PARM + 26)
        at = (seg << 4) + off
        parts.append("D" + "".join(f" {b:02x}" for b in cpu.ram[at : at + 16]))
    return " ".join(parts)


def _far_from(lines: Sequence[str], recs: Sequence[Sequence[int]], ah: int, fld: str) -> FarPtr:
    """A pointer SeaBIOS returned (ES:DI of a floppy AH=08h, the DPTE of AH=48h), to place
    bt's tables where SeaBIOS has them."""
    for line, rec in zip(lines, recs, strict=False):
        words = line.split()
        if rec[0] >> 8 != ah or len(words) < 10 or words[8] != "0000":
            continue
        if fld == "esdi":
            return FarPtr(int(words[7], 16), int(words[6], 16))
        p = [int(b, 16) for b in words[10:90]]
        if p[0] >= 30:
            return FarPtr(p[28] | p[29] << 8, p[26] | p[27] << 8)
    return FarPtr(0xF000, 0)


def replay(config: Sequence[Disk], paths: Sequence[Path], qemu_lines: Sequence[str]) -> list[str]:
    """The probe's lines made by bt's Int13 over the same images."""
    recs = calls()
    images = []
    drives: dict[int, BiosDrive] = {}
    floppies = hds = 0
    for disk, path in zip(config, paths, strict=True):
        kind = FLOPPY if disk.option.startswith("-fd") else HARD_DISK
        image = DiskImage(str(path), kind, snapshot=True)
        images.append(image)
        if kind == FLOPPY:
            drives[floppies] = BiosDrive(image, floppies)
            floppies += 1
        else:
            drives[0x80 + hds] = BiosDrive(image, 0 if disk.option == "-hda" else 1)
            hds += 1
    if 0 not in drives:
        drives[0] = BiosDrive(None, 0)  # QEMU's drive A: is there, empty
    service = Int13(drives, _far_from(qemu_lines, recs, 8, "esdi"), _far_from(
        qemu_lines, recs, 0x48, "dpte"))  # fmt: skip
    cpu = ProbeCpu()
    lines = []
    cpu.regs["dx"] = 0 if config[0].option == "-fda" else 0x80
    cpu.regs["ax"], cpu.regs["cx"], cpu.regs["bx"] = 0x0207, 0x0002, 0x7E00
    service(BiosCall(0x13, cpu, cpu, cpu, 0))  # the probe's own load: its statuses stay
    for rec in recs:
        cpu.ram[PARM : PARM + 80] = struct.pack("<8H", *rec[7:15]) + bytes(64)
        buf = (rec[4] << 4) + rec[1]
        cpu.ram[buf : buf + 2048] = b"\xcc" * 2048
        for name, value in zip(("ax", "bx", "cx", "dx", "si", "di"), (rec[0], rec[1], rec[2],
                                rec[3], rec[5], rec[6]), strict=True):  # fmt: skip
            cpu.regs[name] = value
        cpu.segs["es"], cpu.segs["ds"] = rec[4], 0
        service(BiosCall(0x13, cpu, cpu, cpu, 0))
        lines.append(_line(cpu, rec, rec[0] >> 8 == 0x48))
    for image in images:
        image.close()
    return lines


def compare(name: str, where: Path) -> list[str]:
    """Differences between QEMU's and bt's lines for configuration `name`, as text."""
    config = CONFIGS[name]
    paths = make_images(where, config)
    theirs = run_qemu(config, paths)
    ours = replay(config, paths, theirs)
    recs = calls()
    diffs = []
    for i, rec in enumerate(recs):
        a = theirs[i] if i < len(theirs) else "(no line)"
        b = ours[i]
        if a != b:
            call = " ".join(f"{w:04x}" for w in rec[:7])
            diffs.append(f"{name} call {i} [{call}]\n  qemu: {a}\n  bt:   {b}")
    return diffs


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configs", nargs="*", metavar="CONFIG", help=", ".join(CONFIGS))
    args = parser.parse_args(argv)
    unknown = [c for c in args.configs if c not in CONFIGS]
    if unknown:
        parser.error(f"no configuration {unknown[0]!r} (one of {', '.join(CONFIGS)})")
    if shutil.which(QEMU) is None:
        sys.stderr.write(f"int13_reference: {QEMU} is not installed\n")
        return 2
    failed = False
    for name in args.configs or list(CONFIGS):
        with tempfile.TemporaryDirectory() as tmp:
            diffs = compare(name, Path(tmp))
        for d in diffs:
            sys.stdout.write(re.sub(r"(P( [0-9a-f]{2}){32})( [0-9a-f]{2})+", r"\1 ...", d) + "\n")
        sys.stdout.write(f"{name}: {len(diffs)} of {len(calls())} calls differ\n")
        failed = failed or bool(diffs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
