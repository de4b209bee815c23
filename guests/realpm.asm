; realpm: a boot sector that goes from real mode to 32-bit protected mode, to 16-bit protected
; mode and back to real mode, where DS keeps the 4 GiB limit it had (unreal mode) and reads above
; 1 MiB; prints R P 6 r U on COM1 as it goes. Built: nasm -f bin (guests/build.sh).
bits 16
org 0x7c00
COM1 equ 0x3f8
start:
    cli
    xor ax, ax
    mov ss, ax
    mov sp, 0x7c00
    mov ds, ax
    jmp 0:main
%include "com1_16.inc"
main:
    mov al, 'R'
    call putc
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm32
bits 32
pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7c00
    mov al, 'P'
    mov dx, COM1
    out dx, al
    mov dword [0x200000], 0x11223344
    jmp 0x18:pm16
bits 16
pm16:
    mov al, '6'
    mov dx, COM1
    out dx, al
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0:real
real:
    xor ax, ax
    mov ss, ax
    mov al, 'r'
    call putc
    ; unreal: DS keeps its 4 GiB limit with base 0 after the real-mode reload
    xor ax, ax
    mov ds, ax
    mov esi, 0x200000
    mov eax, [esi]
    cmp eax, 0x11223344
    jne .bad
    mov al, 'U'
    call putc
.bad:
    mov al, 10
    call putc
    xor al, al
    out 0xf4, al
    hlt
gdtr: dw gdt_end - gdt - 1
      dd gdt
gdt: dq 0
     dq 0x00CF9A000000FFFF
     dq 0x00CF92000000FFFF
     dq 0x00009A000000FFFF
gdt_end:
    times 510 - ($ - $$) db 0
    dw 0xaa55
