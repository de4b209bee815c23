; init.asm: the /init of the Linux boot test's initramfs (a static i386 Linux executable).
;
; It prints a marker line with the kernel's release (uname), then ends the run through
; isa-debug-exit at port 0xF4 (iopl(3) first: init runs at CPL 3 as root). QEMU's exit status
; is (0x10 << 1) | 1 = 33, bt's the same. If the port write did nothing (no exit device), it
; powers the machine off with reboot(2), and pauses forever if even that fails.
; Build: guests/build.sh (nasm -f elf32, ld -m elf_i386 -static).

bits 32
%define SYS_exit    1
%define SYS_write   4
%define SYS_reboot  88
%define SYS_iopl    110
%define SYS_uname   122
%define SYS_pause   29
%define EXIT_STATUS 0x10

section .text
global _start
_start:
    mov eax, SYS_write
    mov ebx, 1
    mov ecx, marker
    mov edx, marker_len
    int 0x80
    mov eax, SYS_uname
    mov ebx, uts
    int 0x80
    test eax, eax
    jnz .exit
    ; uts.release is the third 65-byte field: print it up to its NUL, then a newline.
    mov ecx, uts + 130
    xor edx, edx
.len:
    cmp byte [ecx + edx], 0
    je .print
    inc edx
    cmp edx, 64
    jb .len
.print:
    mov byte [ecx + edx], 10
    inc edx
    mov eax, SYS_write
    mov ebx, 1
    int 0x80
.exit:
    mov eax, SYS_iopl
    mov ebx, 3
    int 0x80
    test eax, eax
    jnz .off
    mov al, EXIT_STATUS
    out 0xF4, al
.off:
    mov eax, SYS_reboot
    mov ebx, 0xFEE1DEAD
    mov ecx, 0x28121969
    mov edx, 0x4321FEDC             ; LINUX_REBOOT_CMD_POWER_OFF
    int 0x80
.forever:
    mov eax, SYS_pause
    int 0x80
    jmp .forever

section .rodata
marker: db "BT-LINUX-MARKER: /init is running on "
marker_len equ $ - marker

section .bss
uts: resb 6 * 65
