"""The Linux boot protocol loader: header checks, QEMU's layout, the setup entry, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

from bt.bootplan import is_kernel_file
from bt.cpumodel import model_named
from bt.errors import GuestImageError, OptionError
from bt.linuxboot import (
    CMD_LINE_PTR,
    HEAP_END_PTR,
    LOADFLAGS,
    RAMDISK_IMAGE,
    RAMDISK_SIZE,
    TYPE_OF_LOADER,
    VID_MODE,
    lay_out,
    parse_kernel,
    vga_mode,
)
from bt.machine import MachineConfig
from bt.pcboot import pc_boot

ROOT = Path(__file__).resolve().parent.parent
MIB = 1 << 20


def bzimage(protocol: int = 0x20F, setup_sects: int = 4, loadflags: int = 0x01) -> bytes:
    """A minimal bzImage: boot sector with the setup header, setup sectors, a payload whose
    first instruction is `hlt` (never reached by these tests)."""
    data = bytearray((setup_sects + 1) * 512 + 4096)
    data[0x1F1] = setup_sects
    data[0x1FA:0x1FC] = (0xFFFF).to_bytes(2, "little")
    data[0x1FE:0x200] = b"\x55\xaa"
    data[0x202:0x206] = b"HdrS"
    data[0x206:0x208] = protocol.to_bytes(2, "little")
    data[0x211] = loadflags
    data[0x22C:0x230] = (0x7FFFFFFF).to_bytes(4, "little")
    data[0x238:0x23C] = (2047).to_bytes(4, "little")
    data[(setup_sects + 1) * 512] = 0xF4
    return bytes(data)


def _u32(data: bytes, off: int) -> int:
    return int.from_bytes(data[off : off + 4], "little")


def test_layout_is_qemus_for_a_modern_kernel() -> None:
    k = parse_kernel("k", bzimage())
    assert k.version == "2.15" and len(k.setup) == 5 * 512 and k.payload[0] == 0xF4
    initrd = b"\x1f\x8b" + bytes(5000)
    load = lay_out(k, "console=ttyS0 vga=0x317", initrd, 128 * MIB)
    # x86_load_linux: setup at 0x10000, command line at 0x20000, kernel at 1 MiB; the initrd
    # page-aligned below min(initrd_addr_max, RAM - ACPI data) - 1: 128 KiB on pc, none on
    # isapc (measured: Linux's RAMDISK line under QEMU 7.2).
    assert (load.real_addr, load.cmdline_addr, load.prot_addr) == (0x10000, 0x20000, 0x100000)
    assert load.initrd_addr == (128 * MIB - 0x20000 - 1 - len(initrd)) & ~0xFFF
    isa = lay_out(k, "", initrd, 128 * MIB, "isapc")
    assert isa.initrd_addr == (128 * MIB - 1 - len(initrd)) & ~0xFFF
    s = load.setup
    assert _u32(s, CMD_LINE_PTR) == 0x20000 and s[TYPE_OF_LOADER] == 0xB0
    assert s[LOADFLAGS] == 0x81  # LOADED_HIGH | CAN_USE_HEAP
    assert int.from_bytes(s[HEAP_END_PTR : HEAP_END_PTR + 2], "little") == 0x10000 - 0x200
    assert (_u32(s, RAMDISK_IMAGE), _u32(s, RAMDISK_SIZE)) == (load.initrd_addr, len(initrd))
    assert int.from_bytes(s[VID_MODE : VID_MODE + 2], "little") == 0x317
    assert load.cmdline == b"console=ttyS0 vga=0x317\0"
    assert (load.setup_segment, load.stack_pointer) == (0x1000, 0xFFF0)


def test_old_protocols_load_where_qemu_loads_them() -> None:
    old = lay_out(parse_kernel("k", bzimage(protocol=0x201)), "x", b"", 64 * MIB)
    assert (old.real_addr, old.cmdline_addr, old.prot_addr) == (0x90000, 0x9A000 - 2, 0x100000)
    assert old.setup[0x20:0x24] == b"\x3f\xa3" + (0x9A000 - 2 - 0x90000).to_bytes(2, "little")
    low = lay_out(parse_kernel("k", bzimage(loadflags=0)), "", b"", 64 * MIB)
    assert low.prot_addr == 0x10000 and low.real_addr == 0x90000


def test_vga_parameter_is_read_as_qemu_reads_it() -> None:
    assert vga_mode("console=ttyS0") is None
    assert [vga_mode(f"vga={v}") for v in ("normal", "ext", "ask")] == [0xFFFF, 0xFFFE, 0xFFFD]
    assert [vga_mode(f"a vga={v} b") for v in ("791", "0x317", "010", "junk")] == [791, 791, 8, 0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\0" * 4096, 'no "HdrS" setup header'),
        (bzimage(protocol=0x1FF), "boot protocol 1.255 is not supported"),
        (bzimage()[:0x1FE] + b"\0\0" + bzimage()[0x200:], "no 0xAA55 boot flag"),
        (bzimage(setup_sects=200)[: 3 * 512], "invalid Linux kernel header (200 setup sectors"),
    ],
)
def test_bad_kernels_are_named(data: bytes, message: str) -> None:
    with pytest.raises(GuestImageError, match=message.replace("(", r"\(")):
        parse_kernel("k", data)


def test_what_does_not_fit_is_named() -> None:
    k = parse_kernel("k", bzimage())
    with pytest.raises(GuestImageError, match="--initrd: .* do not fit"):
        lay_out(k, "", bytes(8 * MIB), 8 * MIB)
    with pytest.raises(GuestImageError, match="the command line is 3000 bytes"):
        lay_out(k, "x" * 3000, b"", 64 * MIB)
    with pytest.raises(GuestImageError, match="does not fit in 1 MiB"):
        lay_out(k, "", b"", 1 * MIB)


def test_setup_entry_is_linuxboots(tmp_path: Path) -> None:
    """Registers and memory at the setup code's first instruction, as QEMU 7.2's option ROM
    leaves them (measured: -d cpu at 0x10200)."""
    k = parse_kernel("k", bzimage())
    load = lay_out(k, "console=ttyS0", b"INITRD", 64 * MIB)
    cfg = MachineConfig(64 * MIB, machine="isapc", cpu=model_named("qemu32,-apic"))
    m = pc_boot(cfg, None, lambda _b: None, linux=load).machine
    v = m.vcpu
    assert (v.segs["cs"].selector, v.segs["cs"].base) == (0x1020, 0x10200)
    for name in ("ds", "es", "fs", "gs", "ss"):
        assert v.segs[name].selector == 0x1000, name
    assert m.state.eip == 0
    assert bytes(m.memory.read(0x10000, 512)) == load.setup[:512]
    assert bytes(m.memory.read(0x20000, 14)) == b"console=ttyS0\0"
    assert bytes(m.memory.read(load.initrd_addr, 6)) == b"INITRD"
    assert bytes(m.memory.read(0x100000, 1)) == b"\xf4"


def test_a_bzimage_is_a_kernel_not_a_disk(tmp_path: Path) -> None:
    path = tmp_path / "bzImage"
    path.write_bytes(bzimage())
    assert is_kernel_file(str(path))


def _bt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt", "run", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=HANG_GUARD,
    )


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(bzimage(protocol=0x100))
    elf = ROOT / "guests" / "bin" / "flags.elf"
    cases = [
        (["--kernel", str(kernel)], "boot protocol 1.00 is not supported"),
        (["--kernel", str(kernel), str(elf)], "the guest is already"),
        ([str(elf), "--initrd", str(kernel)], "is not a Linux kernel"),
        (["--cpu", "qemu32,+vmx"], "does not implement the feature 'vmx'"),
        (["--cpu", "qemu32,nope"], "expected +FEATURE"),
    ]
    good = tmp_path / "good"
    good.write_bytes(bzimage())
    cases.append((["--kernel", str(good), "--initrd", str(tmp_path / "none")], "--initrd: cannot"))
    for args, message in cases:
        proc = _bt(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and proc.stderr.count("\n") == 1, (args, proc.stderr)


def test_cpu_feature_toggles_change_only_their_bit() -> None:
    base, off = model_named("qemu32"), model_named("qemu32,-apic")
    assert base.has("apic") and not off.has("apic") and off.name == "qemu32,-apic"
    assert base.cpuid(1, 0)[3] ^ off.cpuid(1, 0)[3] == 1 << 9
    assert model_named("pentium,+sse,sse=off").has("sse") is False
    with pytest.raises(OptionError):
        model_named("qemu32,apic=maybe")
