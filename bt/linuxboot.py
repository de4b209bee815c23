"""The Linux/x86 boot protocol: a bzImage's setup header and the memory QEMU's loader lays out.

QEMU's `-kernel` (x86_load_linux, hw/i386/x86.c) reads the setup header, patches it (the
command line's address, the loader type, CAN_USE_HEAP with heap_end_ptr, the initrd's address
and size, vid_mode from `vga=`) and has its option ROM (linuxboot_dma.bin) copy the setup code,
the protected-mode kernel, the command line and the initrd to memory and jump to the setup
code's real-mode entry, after SeaBIOS's POST. bt does the same with the built-in BIOS: the
real-mode setup code runs (it asks the BIOS for the E820 map, the video mode, EDD and the
keyboard, exactly as on a PC) rather than the 32-bit entry, because that path is the one QEMU
takes and the one that fills boot_params from the firmware as every BIOS-booted kernel sees it.
Protocols 2.00 and later are loaded (the three layouts QEMU knows); zImages without the "HdrS"
header and protocols below 2.00 are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bt.errors import GuestImageError, OptionError

HDRS = b"HdrS"
# Offsets into the setup code (the file's first sectors): the setup header starts at 0x1F1.
SETUP_SECTS = 0x1F1
VID_MODE = 0x1FA
BOOT_FLAG = 0x1FE
HEADER_MAGIC = 0x202
VERSION = 0x206
TYPE_OF_LOADER = 0x210
LOADFLAGS = 0x211
RAMDISK_IMAGE = 0x218
RAMDISK_SIZE = 0x21C
HEAP_END_PTR = 0x224
CMD_LINE_PTR = 0x228
INITRD_ADDR_MAX = 0x22C
CMDLINE_SIZE = 0x238
XLOADFLAGS = 0x236
OLD_CMDLINE_MAGIC = 0x20
OLD_CMDLINE_OFFSET = 0x22

LOADED_HIGH = 0x01
CAN_USE_HEAP = 0x80
XLF_CAN_BE_LOADED_ABOVE_4G = 0x02
LOADER_QEMU = 0xB0  # type_of_loader: QEMU's id 0xB, revision 0
MIN_PROTOCOL = 0x200
# What QEMU keeps out of the initrd's way at the top of low RAM (x86_load_linux's
# acpi_data_size), by machine type: measured under QEMU 7.2 with -m 128, the initrd's last page
# at 0x07fdf000 on pc (below SeaBIOS's 128 KiB high zone) and at 0x07fff000 on isapc.
ACPI_DATA_SIZE = {"pc": 0x20000, "isapc": 0}
# vga= as QEMU's loader reads it (x86_load_linux): the names, else a number (strtol base 0).
VGA_NAMES = {"normal": 0xFFFF, "ext": 0xFFFE, "ask": 0xFFFD}
_STRTOL = re.compile(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class LinuxKernel:
    """A bzImage split as the boot protocol says: the real-mode setup code and the
    protected-mode kernel, with the header fields the loader reads."""

    path: str
    protocol: int
    setup: bytes  # (setup_sects + 1) sectors: the boot sector and the setup code
    payload: bytes  # the protected-mode kernel
    loadflags: int
    initrd_addr_max: int
    xloadflags: int
    cmdline_size: int  # the longest command line the kernel takes, NUL excluded (2.06+)

    @property
    def version(self) -> str:
        """The protocol as the documentation writes it ("2.15")."""
        return f"{self.protocol >> 8}.{self.protocol & 0xFF:02d}"


@dataclass(frozen=True, slots=True)
class LinuxLoad:
    """Where QEMU's loader puts each part in guest-physical memory, and the setup's entry."""

    real_addr: int  # the setup code (boot sector first): the real-mode kernel
    prot_addr: int  # the protected-mode kernel
    cmdline_addr: int
    initrd_addr: int  # 0 without an initrd
    setup: bytes  # the setup code with the header as the loader patched it
    payload: bytes
    cmdline: bytes  # NUL-terminated
    initrd: bytes

    @property
    def setup_segment(self) -> int:
        """DS = ES = FS = GS = SS at the entry; CS is 0x20 above (the setup code proper)."""
        return self.real_addr >> 4

    @property
    def stack_pointer(self) -> int:
        """SP at the entry: 16 bytes below the command line, as linuxboot_dma.bin sets it."""
        return self.cmdline_addr - self.real_addr - 16


def _u16(data: bytes | bytearray, off: int) -> int:
    return int.from_bytes(data[off : off + 2], "little")


def _u32(data: bytes | bytearray, off: int) -> int:
    return int.from_bytes(data[off : off + 4], "little")


def is_bzimage(data: bytes) -> bool:
    """Whether `data` has a Linux setup header ("HdrS"): what QEMU's -kernel tries first."""
    return len(data) >= HEADER_MAGIC + 4 and data[HEADER_MAGIC : HEADER_MAGIC + 4] == HDRS


def parse_kernel(path: str, data: bytes) -> LinuxKernel:
    """The bzImage at `path`, or a one-line GuestImageError naming what is wrong with it."""
    if not is_bzimage(data):
        raise GuestImageError(f'{path}: not a Linux kernel (no "HdrS" setup header at 0x202)')
    protocol = _u16(data, VERSION)
    if protocol < MIN_PROTOCOL:
        raise GuestImageError(
            f"{path}: Linux boot protocol {protocol >> 8}.{protocol & 0xFF:02d} is not supported "
            "(bt loads 2.00 and later)"
        )
    if _u16(data, BOOT_FLAG) != 0xAA55:
        raise GuestImageError(f"{path}: invalid Linux kernel header (no 0xAA55 boot flag)")
    sects = data[SETUP_SECTS] or 4  # 0 means 4, as in the oldest kernels
    setup_size = (sects + 1) * 512
    if setup_size >= len(data):
        raise GuestImageError(
            f"{path}: invalid Linux kernel header ({sects} setup sectors, file of {len(data)} "
            "bytes)"
        )
    return LinuxKernel(
        path=path,
        protocol=protocol,
        setup=data[:setup_size],
        payload=data[setup_size:],
        loadflags=data[LOADFLAGS],
        initrd_addr_max=_u32(data, INITRD_ADDR_MAX) if protocol >= 0x203 else 0x37FFFFFF,
        xloadflags=_u16(data, XLOADFLAGS) if protocol >= 0x20C else 0,
        cmdline_size=_u32(data, CMDLINE_SIZE) if protocol >= 0x206 else 255,
    )


def vga_mode(cmdline: str) -> int | None:
    """The vid_mode a `vga=` parameter asks for, read as QEMU's loader reads it: a name by
    its prefix, else strtol's longest number (None: no `vga=`)."""
    at = cmdline.find("vga=")
    if at < 0:
        return None
    word = cmdline[at + 4 :]
    for name, mode in VGA_NAMES.items():
        if word.startswith(name):
            return mode
    number = _STRTOL.match(word)
    if number is None:
        return 0
    sign, digits = number.group(1), number.group(2)
    if digits[:2].lower() == "0x":
        value = int(digits[2:], 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    return (-value if sign == "-" else value) & 0xFFFF


def lay_out(
    kernel: LinuxKernel, cmdline: str, initrd: bytes, ram_size: int, machine: str = "pc"
) -> LinuxLoad:
    """The memory QEMU's x86_load_linux lays out for `kernel` on its `machine` type with
    `ram_size` bytes of RAM below 4 GiB (one-line GuestImageError when something does not
    fit)."""
    path, protocol = kernel.path, kernel.protocol
    line = cmdline.encode("latin-1") + b"\0"
    if len(line) - 1 > kernel.cmdline_size:
        raise GuestImageError(
            f"--append: the command line is {len(line) - 1} bytes; {path} takes at most "
            f"{kernel.cmdline_size}"
        )
    if not kernel.loadflags & LOADED_HIGH:
        real_addr, cmdline_addr, prot_addr = 0x90000, 0x9A000 - len(line), 0x10000
    elif protocol < 0x202:
        real_addr, cmdline_addr, prot_addr = 0x90000, 0x9A000 - len(line), 0x100000
    else:
        real_addr, cmdline_addr, prot_addr = 0x10000, 0x20000, 0x100000
    if prot_addr + len(kernel.payload) > ram_size:
        raise GuestImageError(
            f"{path}: the kernel ({len(kernel.payload)} bytes at {prot_addr:#x}) does not fit in "
            f"{ram_size >> 20} MiB of RAM"
        )
    if protocol >= 0x20C and kernel.xloadflags & XLF_CAN_BE_LOADED_ABOVE_4G:
        initrd_max = 0xFFFFFFFF
    else:
        initrd_max = kernel.initrd_addr_max
    initrd_max = min(initrd_max, ram_size - ACPI_DATA_SIZE[machine] - 1)
    setup = bytearray(kernel.setup)
    if protocol >= 0x202:
        setup[CMD_LINE_PTR : CMD_LINE_PTR + 4] = cmdline_addr.to_bytes(4, "little")
    else:
        setup[OLD_CMDLINE_MAGIC : OLD_CMDLINE_MAGIC + 2] = (0xA33F).to_bytes(2, "little")
        offset = cmdline_addr - real_addr
        setup[OLD_CMDLINE_OFFSET : OLD_CMDLINE_OFFSET + 2] = offset.to_bytes(2, "little")
    mode = vga_mode(cmdline)
    if mode is not None:
        setup[VID_MODE : VID_MODE + 2] = mode.to_bytes(2, "little")
    setup[TYPE_OF_LOADER] = LOADER_QEMU
    if protocol >= 0x201:
        setup[LOADFLAGS] |= CAN_USE_HEAP
        heap_end = cmdline_addr - real_addr - 0x200
        setup[HEAP_END_PTR : HEAP_END_PTR + 2] = heap_end.to_bytes(2, "little")
    initrd_addr = 0
    if initrd:
        if len(initrd) >= initrd_max:
            raise GuestImageError(
                f"--initrd: {len(initrd)} bytes do not fit below {initrd_max + 1:#x} "
                f"(the kernel's initrd_addr_max and {ram_size >> 20} MiB of RAM)"
            )
        initrd_addr = (initrd_max - len(initrd)) & ~0xFFF
        if initrd_addr < prot_addr + len(kernel.payload):
            raise GuestImageError(
                f"--initrd: {len(initrd)} bytes do not fit above the kernel in "
                f"{ram_size >> 20} MiB of RAM"
            )
        setup[RAMDISK_IMAGE : RAMDISK_IMAGE + 4] = initrd_addr.to_bytes(4, "little")
        setup[RAMDISK_SIZE : RAMDISK_SIZE + 4] = len(initrd).to_bytes(4, "little")
    return LinuxLoad(
        real_addr=real_addr,
        prot_addr=prot_addr,
        cmdline_addr=cmdline_addr,
        initrd_addr=initrd_addr,
        setup=bytes(setup),
        payload=kernel.payload,
        cmdline=line,
        initrd=initrd,
    )


def load_linux(
    path: str,
    data: bytes,
    cmdline: str,
    initrd_path: str | None,
    ram_size: int,
    machine: str = "pc",
) -> LinuxLoad:
    """The bzImage `data` (read from `path`) with the initrd at `initrd_path`, laid out for
    `ram_size` bytes of RAM on `machine` (one-line GuestImageError/OptionError on bad input)."""
    kernel = parse_kernel(path, data)
    initrd = b""
    if initrd_path is not None:
        try:
            with open(initrd_path, "rb") as fh:
                initrd = fh.read()
        except OSError as exc:
            raise OptionError(f"--initrd: cannot read {initrd_path}: {exc.strerror}") from None
    return lay_out(kernel, cmdline, initrd, ram_size, machine)
