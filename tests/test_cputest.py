"""The CPU test ROM (guests/cputest) from the reset vector under `--bios`, compared with QEMU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

from bt.cpumodel import model_named
from bt.machine import Machine, MachineConfig
from bt.resetboot import load_bios, reset_image

ROOT = Path(__file__).resolve().parent.parent
ROM = ROOT / "guests" / "cputest" / "cputest.rom"
EXPECTED = ROOT / "guests" / "expected" / "cputest"
ROM_INSNS = 727_117  # `bt run --bios cputest.rom --stats --count-insns`
TABLE2 = b"flags table 2:"
# Table 2 (undefined flags) where the engine, on Unicorn's TCG, is not QEMU 7.2: SHRD's OF
# for a count above 1 (guests/cputest/README.md).
UNDEFINED_DIFFER = {
    b"SHRD 00000002 80000000 FFFFFFFF",
    b"SHRD 00000002 12345678 9ABCDEF0",
    b"SHRD 00000002 80000001 00000003",
    b"SHRD 000008D7 80000000 FFFFFFFF",
    b"SHRD 000008D7 12345678 9ABCDEF0",
    b"SHRD 000008D7 80000001 00000003",
}


def run_rom(
    cpu: str = "qemu32", max_insns: int = 10 * ROM_INSNS, rom: bytes | None = None
) -> tuple[Machine, bytes]:
    model = model_named(cpu)
    out = bytearray()
    image = reset_image(load_bios(str(ROM)) if rom is None else rom, model)
    m = Machine(MachineConfig(128 << 20, cpu=model), image, lambda _b: None, out.extend)
    m.run(max_insns=max_insns)
    return m, bytes(out)


@pytest.fixture(scope="module")
def whole() -> tuple[Machine, bytes]:
    return run_rom()


def bt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bt.cli", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )


def one_line(proc: subprocess.CompletedProcess[str], words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert words in proc.stderr, proc.stderr


def test_bios_cli_errors(tmp_path: Path) -> None:
    one_line(bt("--bios", str(tmp_path / "none.rom")), "--bios: cannot read")
    odd = tmp_path / "odd.rom"
    odd.write_bytes(bytes(96 << 10))  # QEMU: "could not load PC BIOS"
    one_line(bt("--bios", str(odd)), "98304 bytes; a firmware ROM is a nonzero multiple of 64 KiB")
    empty = tmp_path / "empty.rom"
    empty.write_bytes(b"")
    one_line(bt("--bios", str(empty)), "is 0 bytes")
    one_line(bt("--bios", str(ROM), "--hda", str(odd)), "bt does not boot --hda through it")
    one_line(bt("--bios", str(ROM), str(odd)), "the firmware is the whole guest")
    one_line(bt("--bios", str(ROM), "--mem", "0"), "--mem")


def test_rom_sizes_map_as_qemu() -> None:
    from bt.resetboot import isa_range

    assert isa_range(bytes(64 << 10)) == (0xF0000, 0x100000)  # a 64 KiB ROM: F0000 only
    assert isa_range(bytes(256 << 10)) == (0xE0000, 0x100000)  # its last 128 KiB


def test_reset_state_as_the_rom_sees_it(whole: tuple[Machine, bytes]) -> None:
    lines = whole[1].splitlines()
    assert lines[:2] == [b"cputest: reset", b"entry: eax ecx edx ebx esp ebp esi edi"]
    regs = lines[2].split()
    assert regs == [b"00000000", b"00000000", b"00000663"] + [b"00000000"] * 5  # EDX: qemu32
    assert lines[4].split() == [
        b"00000002",  # EFLAGS
        b"60000010",  # CR0: CD NW ET
        b"00000000",
        b"00000000",
        b"00000000",
        b"FFFF0FF0",  # DR6
        b"00000400",  # DR7
    ]
    # CS F000 (base FFFF0000: the first fetch was at FFFFFFF0, and this section runs from the
    # ROM's high copy until its far jump), data segments 0, GDTR and IDTR limits FFFF.
    assert lines[6].split() == [b"0000F000"] + [b"00000000"] * 5 + [
        b"0000FFFF",
        b"00000000",
        b"0000FFFF",
        b"00000000",
    ]


def test_a_128k_rom_runs_from_both_copies_the_same(whole: tuple[Machine, bytes]) -> None:
    """128 KiB: E0000-FFFFF holds the ROM's last 128 KiB, and it runs as the 64 KiB one."""
    m, out = run_rom(rom=b"\x5a" * (64 << 10) + ROM.read_bytes())
    assert m.memory.read_phys(0xE0000, 4) == b"\x5a" * 4 == m.memory.read_phys(0xFFFE0000, 4)
    assert m.memory.read_phys(0xFFFF0, 5) == m.memory.read_phys(0xFFFFFFF0, 5)
    assert out == whole[1] and out.endswith(b"cputest: done\n")


def test_reset_edx_is_the_models_signature() -> None:
    _m, out = run_rom("486", max_insns=2_000)
    edx = int(out.splitlines()[2].split()[2], 16)
    assert edx == model_named("486").cpuid(1, 0)[0] != 0x663


def test_rom_equals_qemu_on_everything_defined(whole: tuple[Machine, bytes]) -> None:
    m, out = whole
    expected = (EXPECTED / "cputest.debugcon").read_bytes()
    assert m.exit_port.exit_status == 1 and (EXPECTED / "cputest.status").read_text() == "1\n"
    head, _, tail = out.partition(TABLE2)
    want_head, _, want_tail = expected.partition(TABLE2)
    assert head == want_head  # real mode, protected mode, paging, ring 3, V86, tasks, flags table 1
    assert b"real: rom writes are dropped\n00000077" in head
    assert b"(high copy, low copy)\n00000077 00000077 FF0072E9" in head
    got, want = tail.splitlines(), want_tail.splitlines()
    assert len(got) == len(want) and got[-1] == b"cputest: done"
    differ = {g[:31] for g, w in zip(got, want, strict=True) if g != w}
    assert differ == UNDEFINED_DIFFER


def test_post_codes_in_stats() -> None:
    proc = bt("--bios", str(ROM), "--stats", "--max-insns", str(10 * ROM_INSNS))
    assert proc.returncode == 1, proc.stderr  # 0 written to isa-debug-exit
    line = next(x for x in proc.stderr.splitlines() if "POST codes" in x)
    assert line.endswith(
        "POST codes (port 0x80): 19, last FFh; sequence: "
        "01 02 03 04 05 06 07 10 11 12 13 20 30 40 48 49 50 51 FF"
    )


def test_rom_writes_are_dropped_by_the_monitor_too(whole: tuple[Machine, bytes]) -> None:
    m = whole[0]
    before = m.memory.read_phys(0xFFFFF000, 16), m.memory.read_phys(0xFF000, 16)
    m.memory.write_phys(0xFFFFF000, b"\0" * 16)
    m.memory.write_phys(0xFF000, b"\0" * 16)
    assert (m.memory.read_phys(0xFFFFF000, 16), m.memory.read_phys(0xFF000, 16)) == before
    assert m.memory.read_phys(0xFFFFFFF0, 16) == ROM.read_bytes()[-16:]  # the reset vector


BIOS_ROM_WRITE = """bits 16
org 0x7c00
    mov ax, 0xF000
    mov ds, ax
    mov ah, [0xE000]
    not byte [0xE000]           ; into the built-in BIOS's ROM / SeaBIOS's read-only shadow
    mov al, [0xE000]
    cmp al, ah
    mov al, 'S'                 ; the same byte: the write was dropped
    je .p
    mov al, 'W'
.p: out 0xE9, al
    mov al, 0
    out 0xF4, al
    hlt
times 510 - ($ - $$) db 0
dw 0xAA55
"""


def test_builtin_bios_rom_is_read_only_as_seabios_leaves_it(tmp_path: Path) -> None:
    """SeaBIOS ends POST with F0000-FFFFF read-only (PAM0 = 0x10): a boot sector's write there
    is dropped under QEMU, and under bt's built-in BIOS."""
    import shutil

    if shutil.which("nasm") is None:
        pytest.skip("nasm is not installed")
    src = tmp_path / "w.asm"
    src.write_text(BIOS_ROM_WRITE)
    img = tmp_path / "w.img"
    subprocess.run(["nasm", "-f", "bin", "-o", str(img), str(src)], check=True)
    with img.open("r+b") as fh:
        fh.truncate(1474560)
    got = tmp_path / "bt.txt"
    proc = bt("--fda", str(img), "--serial", "none", "--debugcon", f"file:{got}")
    assert proc.returncode == 1, proc.stderr
    if shutil.which("qemu-system-i386") is not None:
        ref = tmp_path / "qemu.txt"
        qemu = ["qemu-system-i386", "-display", "none", "-no-reboot", "-boot", "a"]
        qemu += ["-drive", f"file={img},format=raw,if=floppy", "-debugcon", f"file:{ref}"]
        qemu += ["-device", "isa-debug-exit,iobase=0xf4,iosize=4"]
        subprocess.run(qemu, check=False, timeout=HANG_GUARD, capture_output=True)
        assert ref.read_bytes() == b"S"
    assert got.read_bytes() == b"S"
