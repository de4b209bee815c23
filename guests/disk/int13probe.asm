; int13probe: a boot sector that makes the INT 13h calls of int13calls.inc and prints each
; result on the debug console (port 0xE9), one line a call, then exits through port 0xF4.
; tools/int13_reference.py boots it under QEMU (SeaBIOS) and makes the same calls on bt's Int13.
;
; A line: "R" AX BX CX DX SI DI ES CF (hex words), "P" the 80 bytes at 0000:0500 after the
; call, "B" the first and last dword of each of the four sectors of the buffer at the call's
; ES:BX (filled with 0xCC before the call), "S" the BDA's 0x441 0x474 0x48E, and, after an
; AH=48h call that succeeded with a DPTE pointer in its buffer, "D" the 16 bytes it points at.
bits 16
org 0x7c00

PARM equ 0x0500
CODE_SECTORS equ 7          ; loaded after the boot sector: fits a 160K diskette's first track
REC_SIZE equ 30

start:
    cli
    xor ax, ax
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov sp, 0x7c00
    sti
    mov ax, 0x0200 | CODE_SECTORS
    mov cx, 0x0002
    xor dh, dh
    mov bx, 0x7e00
    int 0x13
    jnc main
    mov al, '!'
    out 0xe9, al
    jmp exit
    times 0x1be-($-$$) db 0     ; an empty partition table: QEMU guesses no geometry from it
    times 510-($-$$) db 0
    dw 0xaa55

main:
    mov si, records
.next:
    cmp si, records_end
    jae exit
    mov [cur], si
    xor ax, ax                  ; clear the parameter area, copy the record's words into it
    mov es, ax
    mov di, PARM
    mov cx, 40
    rep stosw
    lea si, [si+14]
    mov di, PARM
    mov cx, 8
    rep movsw
    mov si, [cur]
    mov es, [si+8]              ; fill the buffer at ES:BX
    mov di, [si+2]
    mov cx, 1024
    mov ax, 0xcccc
    rep stosw
    mov ax, [si+0]
    mov bx, [si+2]
    mov cx, [si+4]
    mov dx, [si+6]
    mov es, [si+8]
    mov di, [si+12]
    mov si, [si+10]
    int 0x13
    mov [r_ax], ax
    pushf
    pop ax
    and ax, 1
    mov [r_cf], ax
    mov [r_bx], bx
    mov [r_cx], cx
    mov [r_dx], dx
    mov [r_si], si
    mov [r_di], di
    mov [r_es], es
    xor ax, ax
    mov ds, ax

    mov al, 'R'
    call putc
    mov si, r_ax
    mov cx, 8
.regs:
    lodsw
    call space_hex16
    loop .regs

    call newline_tag_p
    mov si, PARM
    mov cx, 80
.parm:
    lodsb
    call space_hex8
    loop .parm

    mov al, ' '
    call putc
    mov al, 'B'
    call putc
    mov si, [cur]
    mov es, [si+8]
    mov di, [si+2]
    mov cx, 4
.buf:
    mov ax, [es:di+2]
    call space_hex16_raw
    mov ax, [es:di]
    call hex16
    mov ax, [es:di+510]
    call space_hex16_raw
    mov ax, [es:di+508]
    call hex16
    add di, 512
    loop .buf

    mov al, ' '
    call putc
    mov al, 'S'
    call putc
    mov al, [0x441]
    call space_hex8
    mov al, [0x474]
    call space_hex8
    mov al, [0x48e]
    call space_hex8

    mov si, [cur]
    cmp byte [si+1], 0x48
    jne .eol
    cmp word [PARM], 30
    jb .eol
    test byte [r_cf], 1
    jnz .eol
    mov ax, [PARM+28]
    mov es, ax
    mov di, [PARM+26]
    mov al, ' '
    call putc
    mov al, 'D'
    call putc
    mov cx, 16
.dpte:
    mov al, [es:di]
    inc di
    call space_hex8
    loop .dpte
.eol:
    mov al, 10
    call putc
    mov si, [cur]
    add si, REC_SIZE
    jmp .next

exit:
    mov al, 0
    out 0xf4, al
.halt:
    hlt
    jmp .halt

newline_tag_p:
    mov al, ' '
    call putc
    mov al, 'P'
    jmp putc

space_hex16:                    ; " " and AX as 4 hex digits
space_hex16_raw:
    push ax
    mov al, ' '
    call putc
    pop ax
hex16:
    push ax
    mov al, ah
    call hex8
    pop ax
    jmp hex8

space_hex8:
    push ax
    mov al, ' '
    call putc
    pop ax
hex8:
    push ax
    shr al, 4
    call nibble
    pop ax
nibble:
    and al, 0x0f
    add al, '0'
    cmp al, '9'
    jbe putc
    add al, 'a' - '0' - 10
putc:
    out 0xe9, al
    ret

cur: dw 0
r_ax: dw 0
r_bx: dw 0
r_cx: dw 0
r_dx: dw 0
r_si: dw 0
r_di: dw 0
r_es: dw 0
r_cf: dw 0

%macro rec 15
    dw %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15
%endmacro
records:
%include "int13calls.inc"
records_end:
    times 512 * (CODE_SECTORS + 1) - ($-$$) db 0
