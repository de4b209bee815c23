#!/bin/sh
# Assembles bt/bios/rom.asm into bt/bios/rom.bin (64 KiB) and sets its checksum byte (the last)
# so the image's bytes sum to 0 mod 256, as a PC BIOS's do. Needs nasm and python3.
set -eu
cd "$(dirname "$0")"
nasm -f bin -o rom.bin rom.asm
python3 - <<'PY'
from pathlib import Path

path = Path("rom.bin")
image = bytearray(path.read_bytes())
assert len(image) == 0x10000, f"rom.bin is {len(image)} bytes, not 64 KiB"
image[-1] = (-sum(image[:-1])) & 0xFF
path.write_bytes(bytes(image))
PY
