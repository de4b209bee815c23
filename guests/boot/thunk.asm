; thunk.asm: a bootloader-style guest in 32-bit protected mode that thunks to real mode for every
; BIOS call, as GRUB's grub_bios_interrupt and SYSLINUX's do: bios_call saves the 32-bit state,
; far-jumps to a 16-bit protected-mode segment, clears PE, loads the registers of `bregs`,
; executes INT n (its vector byte patched in before: self-modifying code), stores the registers
; and FLAGS back, sets PE and far-jumps back to 32-bit code. Every character goes to COM1
; directly and to the screen through a thunked INT 10h AH=0Eh. The guest reads the cursor
; (INT 10h AH=03h), a floppy sector with INT 13h AH=02h into low memory and copies it above
; 1 MiB (compared with the copy the boot sector loaded), lists the INT 15h E820 memory map, and
; reads the INT 1Ah date, time (hours and minutes) and tick count, all from protected mode.
STAGE2_SECTORS equ 6
LOWBUF equ 0x1000                       ; real-mode buffer for INT 13h and E820 (0000:1000)
HIGHBUF equ 0x100000                    ; where the sector is copied, above 1 MiB
%include "boot16.inc"
%include "exit16.inc"
%include "stage2.inc"

%macro Q 1                              ; 32-bit: print a string literal
    call qpr
    db %1, 0
%endmacro
%macro QH 3                             ; 32-bit: label %1, value %2 (dword source) as %3 digits
    Q %1
    push eax
    mov eax, %2
    push ecx
    mov ecx, %3
    call qhex
    pop ecx
    pop eax
%endmacro

main:
    cli
    lgdt [gdt_desc]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm_main

bits 32
pm_main:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov eax, cr0
    QH "thunk: protected mode, cr0=", eax, 8
    mov eax, 0
    mov ax, cs
    QH " cs=", eax, 4
    call qnl

    ; INT 10h AH=03h: the cursor, read through the thunk
    mov dword [bregs + R_EAX], 0x0300
    mov dword [bregs + R_EBX], 0
    mov al, 0x10
    call bios_bregs
    movzx eax, byte [bregs + R_EDX + 1]
    QH "int10 ah=03 (thunked): row=", eax, 2
    movzx eax, byte [bregs + R_EDX]
    QH " col=", eax, 2
    call qnl

    ; INT 13h AH=02h: the stage's first sector (cylinder 0, head 0, sector 2) into 0000:1000
    mov dword [bregs + R_EAX], 0x0201
    mov dword [bregs + R_ECX], 0x0002
    movzx eax, byte [ENTRY_DL]
    mov [bregs + R_EDX], eax
    mov dword [bregs + R_EBX], LOWBUF
    mov word [bregs + R_ES], 0
    mov al, 0x13
    call bios_bregs
    Q "int13 ah=02 c=00 h=00 s=02 n=01 (thunked):"
    call qcfah
    movzx eax, byte [bregs + R_EAX]
    QH " al=", eax, 2
    mov esi, LOWBUF
    mov edi, HIGHBUF
    mov ecx, 512 / 4
    rep movsd
    mov esi, HIGHBUF
    mov edi, 0x7E00
    mov ecx, 512
    repe cmpsb
    setz al
    movzx eax, al
    QH " copied to 00100000, equal to 0000:7e00=", eax, 1
    call qnl

    ; INT 15h E820: the memory map, one call per entry
    xor ebx, ebx
.e820:
    mov dword [bregs + R_EAX], 0xE820
    mov [bregs + R_EBX], ebx
    mov dword [bregs + R_ECX], 20
    mov dword [bregs + R_EDX], 0x534D4150 ; 'SMAP'
    mov dword [bregs + R_EDI], LOWBUF
    mov word [bregs + R_ES], 0
    mov al, 0x15
    call bios_bregs
    QH "e820 ebx=", ebx, 2
    movzx eax, byte [bregs + R_FLAGS]
    and al, 1
    QH ": cf=", eax, 1
    test byte [bregs + R_FLAGS], 1
    jnz .e820_done
    QH " eax=", [bregs + R_EAX], 8
    QH " ecx=", [bregs + R_ECX], 2
    QH " base=", [LOWBUF + 4], 8
    QH "", [LOWBUF], 8
    QH " len=", [LOWBUF + 12], 8
    QH "", [LOWBUF + 8], 8
    QH " type=", [LOWBUF + 16], 1
    QH " ebx=", [bregs + R_EBX], 2
    call qnl
    mov ebx, [bregs + R_EBX]
    test ebx, ebx
    jnz .e820
.e820_done:
    call qnl

    ; INT 1Ah: date, time and ticks
    mov dword [bregs + R_EAX], 0x0400
    mov al, 0x1A
    call bios_bregs
    Q "int1a ah=04 (thunked):"
    call qcfah
    QH " date=", [bregs + R_ECX], 4
    Q "-"
    movzx eax, byte [bregs + R_EDX + 1]
    QH "", eax, 2
    Q "-"
    movzx eax, byte [bregs + R_EDX]
    QH "", eax, 2
    call qnl
    mov dword [bregs + R_EAX], 0x0200
    mov al, 0x1A
    call bios_bregs
    Q "int1a ah=02 (thunked):"
    call qcfah
    movzx eax, byte [bregs + R_ECX + 1]
    QH " time=", eax, 2
    Q ":"
    movzx eax, byte [bregs + R_ECX]
    QH "", eax, 2
    call qnl
    mov dword [bregs + R_EAX], 0x0000
    mov al, 0x1A
    call bios_bregs
    Q "int1a ah=00 (thunked):"
    movzx eax, byte [bregs + R_EAX]
    QH " al=", eax, 2
    movzx eax, word [bregs + R_ECX]     ; ticks since midnight in CX:DX; the RTC starts at
    shl eax, 16                         ; 00:00:00, so the count is the seconds since the
    mov ax, [bregs + R_EDX]             ; boot times 18.2: print only that it is below 30 s
    cmp eax, 546
    setb al
    movzx eax, al
    QH " ticks below 30 s=", eax, 1
    call qnl
    Q "thunk: done, exit from protected mode"
    call qnl
    xor al, al
    jmp EXIT_STUB

; qcfah: " cf=C ah=HH" from the FLAGS and EAX of the last BIOS call.
qcfah:
    push eax
    movzx eax, byte [bregs + R_FLAGS]
    and al, 1
    QH " cf=", eax, 1
    movzx eax, byte [bregs + R_EAX + 1]
    QH " ah=", eax, 2
    pop eax
    ret

; qnl: a newline.
qnl:
    push eax
    mov al, 10
    call qputc
    pop eax
    ret

; qputc: AL to COM1 and, through INT 10h AH=0Eh in real mode, to the screen (CR LF for "\n").
qputc:
    pushad
    cmp al, 10
    jne .screen
    mov al, 13
    call .tty
    mov al, 10
.screen:
    call .tty
    mov ah, al
    mov dx, COM1 + 5
.wait:
    in al, dx
    test al, 0x20
    jz .wait
    mov dx, COM1
    mov al, ah
    out dx, al
    popad
    ret
.tty:
    push eax
    push ebp
    movzx eax, al
    or ah, 0x0E
    mov [tregs + R_EAX], eax
    mov dword [tregs + R_EBX], 0x0007
    mov ebp, tregs
    mov al, 0x10
    call bios_call
    pop ebp
    pop eax
    ret

; qpr: prints the string after the call (32-bit).
qpr:
    push esi
    push eax
    mov esi, [esp + 8]
.next:
    lodsb
    test al, al
    jz .done
    call qputc
    jmp .next
.done:
    mov [esp + 8], esi
    pop eax
    pop esi
    ret

; qhex: EAX as ECX hex digits.
qhex:
    pushad
    mov ebx, eax
    mov esi, ecx
.digit:
    lea ecx, [esi * 4 - 4]
    mov eax, ebx
    shr eax, cl
    and al, 0x0F
    cmp al, 10
    sbb al, 0x69
    das
    or al, 0x20
    call qputc
    dec esi
    jnz .digit
    popad
    ret

; bios_bregs: bios_call with the registers of `bregs` (the printing has its own, `tregs`).
bios_bregs:
    push ebp
    mov ebp, bregs
    call bios_call
    pop ebp
    ret

; bios_call: INT AL in real mode with the registers of the block at EBP, which gets the results.
bios_call:
    pushad
    mov [cur_regs], bp
    mov [int_insn + 1], al              ; the vector (self-modifying code)
    mov [saved_esp], esp
    jmp 0x18:.pm16
bits 16
.pm16:
    mov ax, 0x20
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    lidt [ivt_desc]
    mov eax, cr0
    and al, 0xFE
    mov cr0, eax
    jmp 0:.rm
.rm:
    xor ax, ax
    mov ss, ax                          ; ESP stays below 7C00h
    mov ds, ax
    mov fs, ax
    mov gs, ax
    mov eax, [bp + R_EAX]               ; SS:BP, SS = 0
    mov ebx, [bp + R_EBX]
    mov ecx, [bp + R_ECX]
    mov edx, [bp + R_EDX]
    mov esi, [bp + R_ESI]
    mov edi, [bp + R_EDI]
    mov es, [bp + R_ES]
    sti
int_insn:
    int 0x00
    pushf
    cli
    push bp
    mov bp, [cs:cur_regs]
    mov [bp + R_EAX], eax
    mov [bp + R_EBX], ebx
    mov [bp + R_ECX], ecx
    mov [bp + R_EDX], edx
    mov [bp + R_ESI], esi
    mov [bp + R_EDI], edi
    mov [bp + R_ES], es
    pop ax                              ; the BP the BIOS returned
    pop word [bp + R_FLAGS]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:.pm32
bits 32
.pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov esp, [saved_esp]
    popad
    ret

R_EAX equ 0
R_EBX equ 4
R_ECX equ 8
R_EDX equ 12
R_ESI equ 16
R_EDI equ 20
R_ES equ 24
R_FLAGS equ 26
bregs: times 28 db 0
tregs: times 28 db 0
cur_regs: dw 0
saved_esp: dd 0

align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 08: 32-bit code, base 0, 4 GiB
    dq 0x00CF92000000FFFF               ; 10: 32-bit data, base 0, 4 GiB
    dq 0x00009A000000FFFF               ; 18: 16-bit code, base 0, 64 KiB
    dq 0x000092000000FFFF               ; 20: 16-bit data, base 0, 64 KiB
gdt_end:
gdt_desc:
    dw gdt_end - gdt - 1
    dd gdt
ivt_desc:
    dw 0x3FF
    dd 0
STAGE2_END
