#!/usr/bin/env bash
# Builds every guest into guests/bin/<name>.elf and copies demo.elf into bt/demo/.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p bin obj ../bt/demo

LDFLAGS=(-m elf_i386 -T link.ld --build-id=none --no-warn-rwx-segments -z noexecstack -nostdlib)
CFLAGS=(-m32 -ffreestanding -fno-pic -fno-stack-protector -nostdlib -O2 -fno-asynchronous-unwind-tables
        -fno-ident -Wall -Wextra -Wno-unused-function)

asm_guest() {               # one NASM source -> one ELF
    nasm -f elf32 -I ./ -o "obj/$1.o" "$1.asm"
    ld "${LDFLAGS[@]}" -o "bin/$1.elf" "obj/$1.o"
}

c_guest() {                 # shared crt0 stub + one C source -> one ELF
    gcc "${CFLAGS[@]}" -c -o "obj/$1.o" "$1.c"
    ld "${LDFLAGS[@]}" -o "bin/$1.elf" obj/crt0.o "obj/$1.o"
}

for g in flags descriptors segments control io interrupts smc isolation demo kernelish translate usermode escape pcdevices runaway csoverride serialout serialpoll fpu channels sysenter singlestep debugregs watchpoints cpumodel tasks fwtables pci \
         paging paging_user paging_faults pae pagebench nx v86 ide tsc apic; do
    asm_guest "$g"
done
# tasks_ts: tasks with a #TS in the new task's context (bt only, QEMU saves a wrong EIP there).
nasm -f elf32 -I ./ -DTS_IN_NEW_TASK -o obj/tasks_ts.o tasks.asm
ld "${LDFLAGS[@]}" -o bin/tasks_ts.elf obj/tasks_ts.o
nasm -f elf32 -I ./ -o obj/crt0.o crt0.asm
for g in ckernel compute platform; do
    c_guest "$g"
done
# fidelity: its paging-mode entry and page tables after the rest (guests/fidelity.ld).
nasm -f elf32 -I ./ -o obj/fidelity.o fidelity.asm
ld "${LDFLAGS[@]/link.ld/fidelity.ld}" -o bin/fidelity.elf obj/fidelity.o
# fidelity16: a flat image at 0x1000 (its 16-bit code's offsets) carried by a Multiboot kernel.
nasm -f bin -I ./ -o bin/fidelity16.bin fidelity16.asm
asm_guest fidelity16mb && mv bin/fidelity16mb.elf bin/fidelity16.elf
# The higher-half kernel: its own entry (paging before kmain) and linker script (0xC0100000).
nasm -f elf32 -o obj/hhentry.o hhentry.asm
gcc "${CFLAGS[@]}" -c -o obj/hhkernel.o hhkernel.c
ld "${LDFLAGS[@]/link.ld/hh.ld}" -o bin/hhkernel.elf obj/hhentry.o obj/hhkernel.o
# Boot sectors (real mode, 512 bytes, loaded at 0000:7C00).
for g in realmode realpm rmbench smcmixed pcibios pcibios32; do
    nasm -f bin -I ./ -o "bin/$g.img" "$g.asm"
done
nasm -f bin -I ./ -DSTACK_BELOW_CODE -o bin/rmbench7c.img rmbench.asm
# The IDE boot sector (tools/qemu_ide_ref.py puts it on its disk).
nasm -f bin -o bin/ide_boot.bin ide_boot.asm
# The INT 13h probe: a boot sector and its calls (tools/int13_reference.py boots it).
nasm -f bin -I disk/ -o bin/int13probe.bin disk/int13probe.asm
cp bin/demo.elf ../bt/demo/demo.elf
# The Linux boot test's /init: a static i386 Linux executable (tools/mkinitramfs.py packs it).
nasm -f elf32 -o obj/linux_init.o linux/init.asm
ld -m elf_i386 -static -s --build-id=none -z noexecstack -o linux/init obj/linux_init.o
# The boot guests: flat boot sectors and their disk images (guests/boot/build.sh).
sh boot/build.sh
# The CPU test ROM for --bios (guests/cputest/build.sh).
bash cputest/build.sh
rm -rf obj
