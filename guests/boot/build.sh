#!/bin/sh
# Builds the boot guests (nasm -f bin) and their disk images (tools/mkbootimg.py) in guests/boot/.
set -eu
cd "$(dirname "$0")"
mkdir -p obj
for g in hello disk disk3 modes thunk bios keys keysprog; do
    if [ -f "$g.asm" ]; then nasm -f bin -I ./ -o "obj/$g.bin" "$g.asm"; fi
done
python3 ../../tools/mkbootimg.py raw hello.img --file 0:obj/hello.bin
# disk: the pattern on cylinders 0 (head 1) and 1 and the last sector; a 2 MiB hard disk with
# the pattern and the third stage at sector 4000
python3 ../../tools/mkbootimg.py raw disk.img --file 0:obj/disk.bin --pattern 18:54 --pattern 2879:1
python3 ../../tools/mkbootimg.py raw disk_hd.img --size $((4096 * 512)) --pattern 1:4095 \
    --file 4000:obj/disk3.bin
for g in modes thunk bios; do
    if [ -f "obj/$g.bin" ]; then python3 ../../tools/mkbootimg.py raw "$g.img" --file "0:obj/$g.bin"; fi
done
if [ -f obj/keys.bin ]; then
    cp obj/keysprog.bin obj/KEYS.COM
    python3 ../../tools/mkbootimg.py fat12 keys.img obj/KEYS.COM --boot obj/keys.bin
fi
rm -rf obj
