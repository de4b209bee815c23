; pcibios32: a boot sector that enters 32-bit protected mode with paging as Linux runs (the first
; 4 MiB mapped at 0 and at 0xC0000000, code and data through the high alias), finds the BIOS32
; service directory by scanning 0xE0000-0xFFFFF for "_32_" with a good checksum, asks it for
; "$PCI", far-calls the PCI BIOS's 32-bit entry it names (B101, B102, B10A), and finds the
; $PIR table; EAX ECX EDX EBX EDI and CF after each call on COM1. Booted by the firmware
; (QEMU's SeaBIOS, bt's built-in BIOS).
bits 16
org 0x7c00
%include "pcicalls.inc"

HIGH    equ 0xC0000000
PGDIR   equ 0x9000
FARPTR  equ 0x7000                      ; offset (4), selector (2) of the callee

start:
    cli
    xor ax, ax
    mov ds, ax
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm

bits 32
pm:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov dword [PGDIR], 0x83             ; 4 MiB, present, writable (no other PDE is used)
    mov dword [PGDIR + (HIGH >> 22) * 4], 0x83
    mov eax, cr4
    or al, 0x10                         ; PSE
    mov cr4, eax
    mov eax, PGDIR
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov eax, high + HIGH
    jmp eax
high:
    mov esi, HIGH + 0xE0000
.scan:
    cmp dword [esi], "_32_"
    jne .next
    xor eax, eax
    xor ecx, ecx
    mov cl, [esi + 9]
    shl ecx, 4
.sum:
    add al, [esi + ecx - 1]
    loop .sum
    test al, al
    jz .found
.next:
    add esi, 16
    cmp esi, HIGH + 0x100000
    jb .scan
    jmp done
.found:
    lea eax, [esi - HIGH]
    call hex32
    mov eax, [esi + 4]
    call hex32
    call newline
    mov eax, [esi + 4]
    add eax, HIGH
    mov [FARPTR + HIGH], eax
    mov word [FARPTR + HIGH + 4], 0x08
    mov eax, "$PCI"
    xor ebx, ebx
    call callee
    lea eax, [ebx + edx + HIGH]
    mov [FARPTR + HIGH], eax
    mov esi, calls + HIGH
.call:
    cmp word [esi], 0
    je .pir
    push esi
    LOAD_CALL esi
    call callee
    pop esi
    add esi, 14
    jmp .call
.pir:
    mov esi, HIGH + 0xF0000
.find:
    cmp dword [esi], "$PIR"
    je .pir_found
    add esi, 16
    cmp esi, HIGH + 0x100000
    jb .find
.pir_found:
    lea eax, [esi - HIGH]
    call hex32
    call newline
done:
    xor al, al
    out 0xf4, al
    hlt

; callee: far call through FARPTR, then EAX ECX EDX EBX EDI and CF.
callee:
    call far [FARPTR + HIGH]
    pushfd
    pushad
    lea esi, [esp + 28]                 ; pushad's EAX, ECX, EDX, EBX downwards
    mov ecx, 4
.reg:
    mov eax, [esi]
    call hex32
    sub esi, 4
    loop .reg
    mov eax, [esp]                      ; EDI
    call hex32
    mov eax, [esp + 32]
    and al, 1
    add al, '0'
    call putc
    call newline
    popad
    popfd
    ret

; hex32: EAX as 8 hex digits and a space.
hex32:
    pushad
    mov ebx, digits + HIGH
    mov ecx, 8
.digit:
    rol eax, 4
    push eax
    and al, 0x0f
    xlatb
    call putc
    pop eax
    loop .digit
    mov al, ' '
    call putc
    popad
    ret

newline:
    mov al, 10
putc:
    push edx
    push eax
    mov edx, 0x3fd
.wait:
    in al, dx
    and al, 0x20
    jz .wait
    pop eax
    mov dl, 0xf8
    out dx, al
    pop edx
    ret

digits: db "0123456789ABCDEF"

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 0x08: code, flat, 32-bit
    dq 0x00CF92000000FFFF               ; 0x10: data, flat
gdtr:
    dw 23
    dd gdt

; AX, BX, ECX, DX, SI, DI
calls:
    dw 0xB101, 0
    dd 0
    dw 0, 0, 0
    dw 0xB102, 0                        ; the PIIX3 ISA bridge, 8086:7000
    dd 0x7000
    dw 0x8086, 0, 0
    dw 0xB10A, 0x0008                   ; 00:01.0 dword 0
    dd 0
    dw 0, 0, 0
    dw 0

    times 510 - ($ - $$) db 0
    dw 0xAA55
