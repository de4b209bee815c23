"""The boot guests (guests/boot/): each image is built from its source, carries its boot
signature and exit stub, and its references were written by tools/qemu_boot_ref.py and are
what QEMU prints and shows today. (Running them under bt waits for real mode: issue #16.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from limits import HANG_GUARD

from tools import mkbootimg
from tools.qemu_boot_ref import (
    BASE_ARGS,
    EXIT_STUB,
    EXPECTED_DIR,
    GUESTS,
    HEADER,
    load_reference,
    qcodes,
    qemu_version,
    run_guest,
    screen_text,
)

ROOT = Path(__file__).resolve().parent.parent
BOOT = ROOT / "guests" / "boot"
IMAGES = sorted(p.name for p in BOOT.glob("*.img"))
HAVE_NASM = shutil.which("nasm") is not None
HAVE_QEMU = shutil.which("qemu-system-i386") is not None
# OUT 0xF4, AL; CLI; HLT; JMP back to the HLT: the same bytes in 16- and 32-bit code.
STUB = bytes([0xE6, 0xF4, 0xFA, 0xF4, 0xEB, 0xFD])


def test_every_guest_has_its_images() -> None:
    named = {i for spec in GUESTS.values() for i in (spec.fda, spec.hda) if i}
    assert named == set(IMAGES)
    for spec in GUESTS.values():
        if spec.keys:
            assert (BOOT / spec.keys).is_file()


@pytest.mark.skipif(not HAVE_NASM, reason="needs nasm")
def test_images_are_built_from_their_sources(tmp_path: Path) -> None:
    # Build a copy of guests/boot/ (sources and tools/mkbootimg.py in the same layout) and
    # compare every image it makes with the committed one.
    tree = tmp_path / "guests" / "boot"
    tree.mkdir(parents=True)
    for src in [*BOOT.glob("*.asm"), *BOOT.glob("*.inc"), BOOT / "build.sh"]:
        shutil.copy(src, tree / src.name)
    (tmp_path / "tools").mkdir()
    shutil.copy(ROOT / "tools" / "mkbootimg.py", tmp_path / "tools" / "mkbootimg.py")
    subprocess.run(["sh", str(tree / "build.sh")], check=True, timeout=HANG_GUARD)
    built = sorted(p.name for p in tree.glob("*.img"))
    assert built == IMAGES
    for name in IMAGES:
        assert (tree / name).read_bytes() == (BOOT / name).read_bytes(), name


@pytest.mark.parametrize("name", sorted({s.fda for s in GUESTS.values() if s.fda}))
def test_boot_floppies(name: str) -> None:
    image = (BOOT / name).read_bytes()
    assert len(image) == mkbootimg.FLOPPY_144
    assert image[510:512] == b"\x55\xaa"
    stub = EXIT_STUB - 0x7C00
    assert image[stub : stub + len(STUB)] == STUB


def test_hard_disk_holds_the_pattern() -> None:
    image = (BOOT / "disk_hd.img").read_bytes()
    sectors = len(image) // mkbootimg.SECTOR
    assert len(image) % mkbootimg.SECTOR == 0 and sectors == 4096
    for lba in (1, 100, sectors - 1):
        assert image[lba * 512 : (lba + 1) * 512] == mkbootimg.pattern_sector(lba)


def test_keys_floppy_is_fat12_with_the_program() -> None:
    # Read the file back the way the boot sector does: BPB, root directory, FAT chain.
    image = (BOOT / "keys.img").read_bytes()
    bpb = image[11:36]
    per_sector = int.from_bytes(bpb[0:2], "little")
    reserved = int.from_bytes(bpb[3:5], "little")
    fats, root_entries = bpb[5], int.from_bytes(bpb[6:8], "little")
    fat_sectors = int.from_bytes(bpb[11:13], "little")
    assert (per_sector, bpb[2], fats, root_entries, bpb[10]) == (512, 1, 2, 224, 0xF0)
    assert int.from_bytes(bpb[8:10], "little") == 2880
    root = (reserved + fats * fat_sectors) * 512
    data = root + root_entries * 32
    entry = image[root : root + 32]
    assert entry[:11] == b"KEYS    COM"
    cluster = int.from_bytes(entry[26:28], "little")
    size = int.from_bytes(entry[28:32], "little")
    fat = image[reserved * 512 : (reserved + fat_sectors) * 512]
    assert fat == image[(reserved + fat_sectors) * 512 : (reserved + 2 * fat_sectors) * 512]
    content = bytearray()
    while cluster < 0xFF8:
        content += image[data + (cluster - 2) * 512 : data + (cluster - 1) * 512]
        pair = int.from_bytes(fat[cluster * 3 // 2 : cluster * 3 // 2 + 2], "little")
        cluster = pair >> 4 if cluster & 1 else pair & 0xFFF
    assert len(content) >= size > 512  # two clusters at least: the chain is followed
    assert b"KEYS.COM: a DOS-style program on INT 21h of its own" in content[:size]
    assert not any(content[size:])  # the last cluster's tail


def test_mkbootimg_bad_input_is_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "mkbootimg.py"), "raw", "/dev/null", "--file", "x"],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD,
    )
    assert proc.returncode == 2
    assert proc.stderr == "mkbootimg: error: x: expected LBA:FILE\n"
    with pytest.raises(mkbootimg.ImageError, match="not an 8.3 file name"):
        mkbootimg.dos_name("toolongname.com")
    with pytest.raises(mkbootimg.ImageError, match="end past the image"):
        mkbootimg.raw_image(1024, [mkbootimg.Placement(1, bytes(513))], [])


@pytest.mark.parametrize("name", sorted(GUESTS))
def test_reference_made_by_the_tool(name: str) -> None:
    ref = load_reference(name)  # raises unless both files start with the tool's header
    version, _, command = ref.header.partition(" | ")
    assert version.startswith("QEMU emulator version ")
    assert command.startswith("qemu-system-i386 " + " ".join(GUESTS[name].qemu_args()))
    assert " ".join(BASE_ARGS) in command
    assert ref.status == 1  # the guest wrote 0 to the isa-debug-exit port
    assert len(ref.screen.split("\n")) == 25
    # What the guest printed last is on its final screen (the screen is the guest's own),
    # wrapped at 80 columns by the teletype.
    last = ref.serial.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()
    rows = [last[i : i + 80].rstrip(" ") for i in range(0, len(last), 80)]
    screen = ref.screen.split("\n")
    assert rows and any(screen[i : i + len(rows)] == rows for i in range(25)), rows
    for line in ref.serial.decode("ascii").splitlines():
        assert not line.startswith(HEADER)


def test_keys_are_typable() -> None:
    text = (BOOT / "keys.keys").read_text()
    assert text.count("\n") == 2  # one line for each prompt of keysprog.asm
    assert all(qcodes(ch) for ch in text)
    assert qcodes("H") == ["shift", "h"] and qcodes("\b") == ["backspace"]


def test_screen_text_rows() -> None:
    cells = bytearray(4000)
    cells[0::2] = b" " * 2000
    cells[0:4] = b"h\x07i\x07"
    cells[160 * 24] = 0x01  # CP437 smiley, not a control character
    text = screen_text(bytes(cells))
    assert text.split("\n") == ["hi", *[""] * 23, "☺"]


@pytest.mark.skipif(not HAVE_QEMU, reason="needs qemu-system-i386")
@pytest.mark.parametrize("name", sorted(GUESTS))
def test_qemu_still_gives_the_reference(name: str) -> None:
    want = load_reference(name)
    if not want.header.startswith(qemu_version() + " | "):
        pytest.skip(f"the reference comes from another QEMU ({want.header.split(' | ')[0]})")
    got = run_guest(name, timeout=HANG_GUARD)
    assert (got.serial, got.screen, got.status) == (want.serial, want.screen, want.status)
    assert (EXPECTED_DIR / f"{name}.status").read_text() == f"{got.status}\n"
