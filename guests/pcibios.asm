; pcibios: a boot sector calling the PCI BIOS (INT 1Ah AH=B1h) as the firmware answers it in
; real mode: installation check, find device, find class, configuration reads and writes of
; each width, IRQ routing options (too small a buffer, then the table), an unknown function,
; a bus that does not exist. After each call: EAX EBX ECX EDX EDI and CF on COM1. Booted by
; the firmware (QEMU's SeaBIOS, bt's built-in BIOS); ends at the exit port 0xf4.
bits 16
org 0x7c00
%include "pcicalls.inc"

PARAM equ 0x7000                        ; the B10E parameter block: size, offset, segment
TABLE equ 0x7100                        ; its buffer

start:
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7000
    cld
    mov si, calls
.call:
    cmp word [si], 0
    je .b10e
    call one
    add si, 14
    jmp .call
.b10e:
    mov dword [PARAM], 0                ; size 0: too small, the size needed comes back
    mov word [PARAM + 4], 0
    mov si, get_routing
    call one
    mov ax, [PARAM]
    call hex16
    call newline
    mov word [PARAM], 0x200
    mov word [PARAM + 2], TABLE
    call one
    mov ax, [PARAM]
    call hex16
    call newline
    mov si, TABLE                       ; the slots: 16 bytes a line
    mov cx, [PARAM]
    shr cx, 4
    jcxz .done
.row:
    push cx
    mov cx, 8
.word:
    lodsw
    xchg al, ah                         ; print as the bytes lie
    call hex16
    loop .word
    call newline
    pop cx
    loop .row
.done:
    xor al, al
    out 0xf4, al
    cli
    hlt

; one: the call described at SI (AX, BX, ECX, DX, SI, DI), then its results.
one:
    push si
    LOAD_CALL si
    int 0x1a
    pushf
    push edi
    push edx
    push ecx
    push ebx
    call hex32
    mov cx, 4
.reg:
    pop eax
    call hex32
    loop .reg
    pop ax
    and al, 1                           ; CF
    add al, '0'
    call putc
    call newline
    pop si
    ret

; hex32: EAX as 8 digits and a space; hex16: AX as 4 digits.
hex32:
    push eax
    shr eax, 16
    call hex16
    pop eax
    call hex16
    mov al, ' '
    jmp putc
hex16:
    push bx
    push cx
    mov bx, digits
    mov cx, 4
.digit:
    rol ax, 4
    push ax
    and al, 0x0f
    xlat
    call putc
    pop ax
    loop .digit
    pop cx
    pop bx
    ret

newline:
    mov al, 10
%include "com1_16.inc"

digits: db "0123456789ABCDEF"

; AX, BX, ECX, DX, SI, DI
calls:
    dw 0xB101, 0
    dd 0
    dw 0, 0, 0
    dw 0xB102, 0                        ; the host bridge, 8086:1237
    dd 0x1237
    dw 0x8086, 0, 0
    dw 0xB102, 0                        ; a second PIIX3 ISA bridge: none
    dd 0x7000
    dw 0x8086, 1, 0
    dw 0xB103, 0                        ; class: IDE, prog-if 0x80
    dd 0x010180
    dw 0, 0, 0
    dw 0xB103, 0                        ; class: USB UHCI: none
    dd 0x0C0300
    dw 0, 0, 0
    dw 0xB108, 0x0008                   ; 00:01.0 header type (byte)
    dd 0
    dw 0, 0, 0x0E
    dw 0xB109, 0x000B                   ; 00:01.3 class (word)
    dd 0
    dw 0, 0, 0x0A
    dw 0xB10A, 0x0010                   ; 00:02.0 BAR0 (dword)
    dd 0
    dw 0, 0, 0x10
    dw 0xB10B, 0x0008                   ; 00:01.0 PIRQB routed to IRQ 11 (byte write)...
    dd 0x0B
    dw 0, 0, 0x61
    dw 0xB10A, 0x0008                   ; ...read back with its neighbours
    dd 0
    dw 0, 0, 0x60
    dw 0xB10C, 0x0009                   ; 00:01.1 command (word write)...
    dd 0x0107
    dw 0, 0, 0x04
    dw 0xB10D, 0x0009                   ; 00:01.1 interrupt line (dword write)...
    dd 0xFFFFFF0E
    dw 0, 0, 0x3C
    dw 0xB10A, 0x0009                   ; ...and the command read back
    dd 0
    dw 0, 0, 0x04
    dw 0xB10A, 0x0009
    dd 0
    dw 0, 0, 0x3C
    dw 0xB10A, 0x0100                   ; bus 1
    dd 0
    dw 0, 0, 0x00
    dw 0xB1FF, 0                        ; not a PCI BIOS function
    dd 0
    dw 0, 0, 0
    dw 0
get_routing:
    dw 0xB10E, 0
    dd 0
    dw 0, 0, PARAM

    times 510 - ($ - $$) db 0
    dw 0xAA55
