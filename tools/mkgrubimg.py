"""Build a GRUB 2 boot image from Debian's grub-pc-bin that boots a Multiboot kernel.

Two kinds. `disk` (the default) is what grub-install makes of a PC's disk, without root or
loop mounts: grub-mkimage makes core.img (diskboot.img, the LZMA decompressor, the kernel and
the modules named below), written from sector 1 on (the "MBR gap" before the first
partition); boot.img becomes the MBR with the LBA of core.img's first sector at
GRUB_BOOT_MACHINE_KERNEL_SECTOR (0x5c), as grub-bios-setup patches it, and the partition table
at 0x1be. Partition 1 is a FAT16 file system made by mkfs.fat on a plain file and filled by
mcopy (mtools). `iso` is grub-mkrescue's (xorriso) hybrid ISO, what most Multiboot kernels'
users make: its MBR (boot_hybrid.img) boots it as a hard disk, which is how the engine's BIOS
boots it (it has no CD-ROM drive; QEMU boots it either way). Both hold /boot/grub/grub.cfg
(COM1 console, no timeout, one menu entry) and the kernel as /boot/kernel.elf.

GRUB 2 passes the words after the kernel's path as its command line; QEMU's -kernel (and GRUB
Legacy) pass the path too, which the project's kernels skip: the path is given twice so the
kernel sees what it sees under QEMU's -kernel with `--append ARGS`. `--linux16` boots a Linux
bzImage (memtest86+) through GRUB's `linux16` instead: the real-mode setup code, as a PC's
bootloader runs it, with ARGS as its command line.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hosttools import ToolError, missing, run  # noqa: E402

SECTOR = 512
GRUB_DIR = Path("/usr/lib/grub/i386-pc")
# core.img's modules: the disk and its partition table, the file system, the serial console,
# the menu, Multiboot.
MODULES = "biosdisk part_msdos fat normal configfile serial terminal echo multiboot boot"
KERNEL_SECTOR = 0x5C  # boot.S: the 64-bit LBA of core.img's first sector
PART_TABLE = 0x1BE
PART_FIRST = 2048  # the first partition at 1 MiB, as fdisk places it
PART_SECTORS = 16 * 2048  # 16 MiB
FAT16_LBA = 0x0E  # partition type: FAT16 addressed by LBA
CHS_MAX = b"\xfe\xff\xff"  # "beyond CHS": the BIOS uses LBA (INT 13h AH=42h)
DISK_TOOLS = ("grub-mkimage", "mkfs.fat", "mcopy", "mmd")
ISO_TOOLS = ("grub-mkrescue", "xorriso")
DEFAULT_ARGS = "bt test cmdline"  # ckernel's expected output was made with this --append


def grub_cfg(args: str, linux16: bool = False) -> str:
    """The configuration: GRUB's console on COM1, the kernel booted at once."""
    load = (
        f"linux16 /boot/kernel.elf {args}"
        if linux16
        else (f"multiboot /boot/kernel.elf /boot/kernel.elf {args}")
    )
    return (
        "serial --unit=0 --speed=115200\n"
        "terminal_input serial\n"
        "terminal_output serial\n"
        "set timeout=0\n"
        'menuentry "bt kernel" {\n'
        f"  {load}\n"
        "  boot\n"
        "}\n"
    )


def missing_tools(tools: tuple[str, ...] = DISK_TOOLS) -> str | None:
    """Why an image that needs `tools` cannot be built here, or None."""
    return missing({GRUB_DIR / "boot.img": "grub-pc-bin"}, tools)


def partition_entry(first: int, sectors: int, kind: int) -> bytes:
    """A bootable MBR partition entry addressed by LBA (CHS fields saturated)."""
    return (
        b"\x80"
        + CHS_MAX
        + bytes([kind])
        + CHS_MAX
        + first.to_bytes(4, "little")
        + sectors.to_bytes(4, "little")
    )


def build_iso(out: Path, kernel: Path, args: str) -> None:
    """Write grub-mkrescue's hybrid ISO `out` booting `kernel` with command-line `args`."""
    _check(kernel, ISO_TOOLS)
    with tempfile.TemporaryDirectory(prefix="mkgrubimg-") as tmp:
        root = Path(tmp) / "iso"
        (root / "boot" / "grub").mkdir(parents=True)
        (root / "boot" / "grub" / "grub.cfg").write_text(grub_cfg(args))
        shutil.copyfile(kernel, root / "boot" / "kernel.elf")
        run(["grub-mkrescue", "-d", str(GRUB_DIR), "-o", str(out), str(root)])


def _check(kernel: Path, tools: tuple[str, ...]) -> None:
    why = missing_tools(tools)
    if why:
        raise ToolError(why)
    if not kernel.is_file():
        raise ToolError(f"{kernel}: no such kernel file")


def build(out: Path, kernel: Path, args: str, linux16: bool = False) -> None:
    """Write the disk image `out` booting `kernel` with command-line `args` (`linux16`: a
    bzImage through GRUB's linux16)."""
    _check(kernel, DISK_TOOLS)
    with tempfile.TemporaryDirectory(prefix="mkgrubimg-") as tmp:
        work = Path(tmp)
        core = work / "core.img"
        prefix = "(hd0,msdos1)/boot/grub"
        run(
            ["grub-mkimage", "-O", "i386-pc", "-d", str(GRUB_DIR), "-o", str(core)]
            + ["-p", prefix]
            + MODULES.split()
            + (["linux16"] if linux16 else [])
        )
        core_bytes = core.read_bytes()
        if 1 + -(-len(core_bytes) // SECTOR) > PART_FIRST:
            raise ToolError(f"core.img ({len(core_bytes)} bytes) does not fit the MBR gap")
        part = work / "part.img"
        run(["mkfs.fat", "-F", "16", "-n", "BTGRUB", "-C", str(part), str(PART_SECTORS // 2)])
        cfg = work / "grub.cfg"
        cfg.write_text(grub_cfg(args, linux16))
        fs = ["-i", str(part)]
        run(["mmd", *fs, "::/boot", "::/boot/grub"])
        run(["mcopy", *fs, str(cfg), "::/boot/grub/grub.cfg"])
        run(["mcopy", *fs, str(kernel), "::/boot/kernel.elf"])
        mbr = bytearray((GRUB_DIR / "boot.img").read_bytes())
        mbr[KERNEL_SECTOR : KERNEL_SECTOR + 8] = (1).to_bytes(8, "little")
        mbr[PART_TABLE : PART_TABLE + 16] = partition_entry(PART_FIRST, PART_SECTORS, FAT16_LBA)
        mbr[PART_TABLE + 16 : 510] = bytes(510 - PART_TABLE - 16)
        mbr[510:512] = b"\x55\xaa"
        image = bytearray((PART_FIRST + PART_SECTORS) * SECTOR)
        image[:SECTOR] = mbr
        image[SECTOR : SECTOR + len(core_bytes)] = core_bytes
        image[PART_FIRST * SECTOR :] = part.read_bytes()
        out.write_bytes(image)


BUILDERS = {"disk": build, "iso": build_iso}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the disk image to write")
    parser.add_argument("--kernel", required=True, metavar="ELF", help="the Multiboot kernel")
    parser.add_argument("--args", default=DEFAULT_ARGS, help="its command line's arguments")
    parser.add_argument("--kind", choices=BUILDERS, default="disk", help="the image's kind")
    parser.add_argument(
        "--linux16", action="store_true", help="the kernel is a bzImage (disk images only)"
    )
    ns = parser.parse_args(argv)
    try:
        if ns.linux16:
            if ns.kind != "disk":
                raise ToolError("--linux16 makes disk images only")
            build(Path(ns.out), Path(ns.kernel), ns.args, linux16=True)
        else:
            BUILDERS[ns.kind](Path(ns.out), Path(ns.kernel), ns.args)
    except (ToolError, OSError) as exc:
        parser.exit(2, f"mkgrubimg: error: {exc}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
