"""The IDE guest's disks and its reference: guests/bin/ide.elf under qemu-system-i386 -M pc.

`make_disks(DIR)` writes the guest's two images deterministically (hda 4 MiB, hdc 1 MiB: each
sector holds its LBA as a dword, then the bytes (LBA + offset) & 0xFF); `python
tools/qemu_ide_ref.py` boots the guest under QEMU with them at IDE positions 0 and 2 and writes
guests/expected/ide/ide.serial and ide.status (`--check` compares instead; `--machine isapc`:
ide@isapc.*). `--boot`: the boot sector guests/bin/ide_boot.bin on its own disk, booted by
SeaBIOS (ide_boot.*). Writes go to copies, so every run starts from the same images.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = ROOT / "guests" / "bin"
EXPECTED = ROOT / "guests" / "expected" / "ide"
# No disk at index 2 would give QEMU's default (empty) CD-ROM there, which bt does not have.
DISKS = {"hda": (0, 8192), "hdc": (2, 2048)}  # name: (IDE index, sectors)


def disk_bytes(sectors: int) -> bytes:
    """An image whose sector n is n as a little-endian dword, then (n + offset) & 0xFF."""
    rows = [bytes((k + i) & 0xFF for i in range(4, 512)) for k in range(256)]
    return b"".join(n.to_bytes(4, "little") + rows[n & 0xFF] for n in range(sectors))


def boot_disk_bytes() -> bytes:
    """guests/bin/ide_boot.bin at LBA 0 of a 1 MiB disk with the pattern everywhere else."""
    return (BIN_DIR / "ide_boot.bin").read_bytes() + disk_bytes(2048)[512:]


def make_disks(directory: Path) -> dict[str, Path]:
    """Write the guest's images into `directory`; their paths by drive name."""
    paths = {}
    for name, (_, sectors) in DISKS.items():
        path = directory / f"{name}.img"
        path.write_bytes(disk_bytes(sectors))
        paths[name] = path
    boot = directory / "boot.img"
    boot.write_bytes(boot_disk_bytes())
    paths["boot"] = boot
    return paths


def qemu_args(paths: dict[str, Path], machine: str = "pc", boot: bool = False) -> list[str]:
    """The QEMU command line of the reference run (`boot`: the boot sector's disk alone)."""
    disks = {"boot": 0} if boot else {name: index for name, (index, _) in DISKS.items()}
    drives = [
        arg
        for name, index in disks.items()
        for arg in ("-drive", f"file={paths[name]},format=raw,if=ide,index={index}")
    ]
    return [
        "qemu-system-i386",
        "-M",
        machine,
        *(() if boot else ("-kernel", "ide.elf")),
        *drives,
        "-serial",
        "stdio",
        "-display",
        "none",
        "-device",
        "isa-debug-exit,iobase=0xf4,iosize=4",
        "-debugcon",
        "file:/dev/null",
        "-m",
        "128",
        "-no-reboot",
    ]


def run(machine: str = "pc", boot: bool = False, timeout: float = 60.0) -> tuple[bytes, int]:
    """The guest's COM1 output and exit status under QEMU."""
    with tempfile.TemporaryDirectory() as tmp:
        args = qemu_args(make_disks(Path(tmp)), machine, boot)
        proc = subprocess.run(
            args, cwd=BIN_DIR, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout
        )
    return proc.stdout, proc.returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare with the committed files")
    parser.add_argument("--machine", default="pc", choices=("pc", "isapc"))
    parser.add_argument("--boot", action="store_true", help="the boot sector guest, ide_boot")
    args = parser.parse_args(argv)
    serial, status = run(args.machine, args.boot)
    name = "ide_boot" if args.boot else "ide"
    suffix = name if args.machine == "pc" else f"{name}@{args.machine}"
    out, st = EXPECTED / f"{suffix}.serial", EXPECTED / f"{suffix}.status"
    if args.check:
        same = out.read_bytes() == serial and int(st.read_text()) == status
        print(f"{suffix}: status {status}, {'same' if same else 'DIFFERS'}")
        return 0 if same else 1
    EXPECTED.mkdir(parents=True, exist_ok=True)
    out.write_bytes(serial)
    st.write_text(f"{status}\n")
    lines = serial.count(b"\n")
    print(f"{suffix}: status {status}, {lines} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
