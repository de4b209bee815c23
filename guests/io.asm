; io: IN/OUT imm8 and DX forms (8/16/32-bit) on COM1 registers, debugcon 0xE9, REP OUTSB/INSB, an empty port.
%include "common.inc"
; QEMU 7.2 notes: a 16/32-bit access that runs past COM1's last port (0x3FF) aborts QEMU
; (serial.c assertion), so wide accesses stay inside 0x3F8-0x3FF; debugcon answers 0xE9
; only to byte reads; port 0x100 is unassigned on the pc machine and reads all ones.

EMPTY equ 0x100

%macro SHOW 2                           ; SHOW "text", digits : print EAX
    PUTS %1
    HEX "value", eax, %2
    NL
%endmacro

main:
    mov al, 0xFF                        ; mask every PIC IRQ (also an imm8 OUT)
    out 0x21, al
    out 0xA1, al
    mov eax, 0x12345678
    in al, 0x21
    SHOW "IN al,0x21 (PIC mask)", 8

    ; UART line control and divisor latch.  While DLAB=1 port 0x3F8 is DLL, so nothing is
    ; printed until DLAB is cleared again; results go to dlab_res first.
    mov dx, COM1 + 1
    xor al, al
    out dx, al                          ; IER = 0
    mov dx, COM1 + 3
    mov al, 0x83                        ; DLAB=1, 8N1
    out dx, al
    mov eax, 0x12345678
    in al, dx
    mov [dlab_res], eax
    mov dx, COM1
    mov ax, 0x0C03                      ; 16-bit OUT: DLL=0x03, DLM=0x0c
    out dx, ax
    mov eax, 0x12345678
    in al, dx
    mov [dlab_res + 4], eax
    inc dx
    mov eax, 0x12345678
    in al, dx
    mov [dlab_res + 8], eax
    dec dx
    mov eax, 0x12345678
    in ax, dx
    mov [dlab_res + 12], eax
    mov al, 0x01                        ; 115200 baud
    out dx, al
    inc dx
    xor al, al
    out dx, al
    dec dx
    mov eax, 0x12345678
    in ax, dx
    mov [dlab_res + 16], eax
    mov dx, COM1 + 3
    mov al, 0x03                        ; DLAB=0
    out dx, al
    mov eax, [dlab_res]
    SHOW "LCR after writing 0x83", 8
    mov eax, [dlab_res + 4]
    SHOW "DLL after 16-bit OUT 0x0c03 (8-bit IN)", 8
    mov eax, [dlab_res + 8]
    SHOW "DLM (8-bit IN)", 8
    mov eax, [dlab_res + 12]
    SHOW "DLL|DLM (16-bit IN)", 8
    mov eax, [dlab_res + 16]
    SHOW "divisor after 8-bit writes 0x01 0x00", 8
    mov dx, COM1 + 3
    in al, dx
    movzx eax, al
    SHOW "LCR after writing 0x03", 2

    ; Scratch register, 8/16/32-bit.
    mov dx, COM1 + 7
    mov al, 0x5A
    out dx, al
    mov eax, 0x12345678
    in al, dx
    SHOW "SCR 8-bit write 0x5a, read", 8
    mov dx, COM1 + 6
    mov ax, 0xA55A                      ; MSR (write ignored) and SCR=0xa5
    out dx, ax
    mov dx, COM1 + 7
    in al, dx
    movzx eax, al
    SHOW "SCR after 16-bit OUT 0xa55a at 0x3fe", 2
    mov dx, COM1 + 4
    mov eax, 0x3C00000B                 ; MCR=0x0b, LSR/MSR ignored, SCR=0x3c
    out dx, eax
    mov dx, COM1 + 5
.idle:
    in al, dx                           ; wait until the transmitter is empty: LSR stable
    test al, 0x40
    jz .idle
    mov dx, COM1 + 4
    in eax, dx
    SHOW "32-bit IN 0x3fc (MCR LSR MSR SCR)", 8
    mov dx, COM1 + 4
    mov al, 0x03                        ; MCR = DTR|RTS
    out dx, al

    ; imm8 forms: debugcon and the POST port.
    mov al, 'X'
    out 0xE9, al
    mov eax, 0x12345678
    in al, 0xE9
    SHOW "IN al,0xe9 (debugcon)", 8
    out 0x80, al
    mov eax, 0x12345678
    in al, 0x80
    SHOW "IN al,0x80", 8
    mov eax, 0x12345678
    in ax, 0x80
    SHOW "IN ax,0x80", 8
    in eax, 0x80
    SHOW "IN eax,0x80", 8

    ; A port nothing answers on.
    mov dx, EMPTY
    mov eax, 0x12345678
    in al, dx
    SHOW "IN al,dx (0x100)", 8
    mov eax, 0x12345678
    in ax, dx
    SHOW "IN ax,dx (0x100)", 8
    xor eax, eax
    in eax, dx
    SHOW "IN eax,dx (0x100)", 8
    mov eax, 0xA5A5A5A5
    out dx, al                          ; writes to nowhere are dropped
    out dx, ax
    out dx, eax

    ; REP OUTSB straight into THR, after the transmitter drained.
    mov dx, COM1 + 5
.drain:
    in al, dx
    test al, 0x40
    jz .drain
    mov esi, outs_text
    mov ecx, outs_len
    mov dx, COM1
    rep outsb
    sub esi, outs_text
    PUTS "after REP OUTSB"
    HEX "ecx", ecx, 8
    DEC "esi_advanced", esi
    NL

    ; REP INSB from the scratch register, REP INSD from the empty port.
    mov dx, COM1 + 7
    mov al, 0x42
    out dx, al
    mov edi, ins_buf
    mov ecx, 8
    rep insb
    mov dx, EMPTY
    mov ecx, 2
    rep insd
    sub edi, ins_buf
    PUTS "REP INSB x8 + REP INSD x2"
    HEX "d0", [ins_buf], 8
    HEX "d1", [ins_buf + 4], 8
    HEX "d2", [ins_buf + 8], 8
    HEX "d3", [ins_buf + 12], 8
    HEX "d4", [ins_buf + 16], 8
    DEC "edi_advanced", edi
    NL

    LINE "io done"
    EXIT 0

section .rodata
outs_text: db "REP OUTSB hello", 10
outs_len equ $ - outs_text

section .bss
ins_buf: resb 20
dlab_res: resd 5
