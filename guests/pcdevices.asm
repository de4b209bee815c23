; pcdevices: the PC platform as a Multiboot kernel finds it: PIC masks, PIT read-back status,
; CMOS memory-size and equipment bytes, keyboard-controller status and command byte, VGA CRTC
; cursor registers and the first characters of the text screen left by the firmware.
%include "common.inc"

%macro INB 2                            ; INB "name", port
    in al, %2
    movzx eax, al
    HEX %1, eax, 2
%endmacro

%macro CMOS 2                           ; CMOS "name", index
    mov al, %2
    out 0x70, al
    in al, 0x71
    movzx eax, al
    HEX %1, eax, 2
%endmacro

section .text
main:
    PUTS "pic"
    INB "imr_master", 0x21
    INB "imr_slave", 0xA1
    NL
    PUTS "pit"
    mov al, 0xE2                        ; read-back: status of channel 0..., latch status only
    out 0x43, al
    INB "status0", 0x40
    mov al, 0xE8                        ; status of channel 2
    out 0x43, al
    INB "status2", 0x42
    NL
    PUTS "cmos"
    CMOS "reg_a", 0x0A
    CMOS "reg_b", 0x0B
    CMOS "reg_d", 0x0D
    CMOS "floppy", 0x10
    CMOS "equip", 0x14
    CMOS "base_lo", 0x15
    CMOS "base_hi", 0x16
    CMOS "ext_lo", 0x30
    CMOS "ext_hi", 0x31
    CMOS "high_lo", 0x34
    CMOS "high_hi", 0x35
    CMOS "century", 0x32
    NL
    PUTS "kbd"
    INB "status", 0x64
    mov al, 0x20                        ; read command byte
    out 0x64, al
.wait:
    in al, 0x64
    test al, 1
    jz .wait
    INB "command_byte", 0x60
    NL
    PUTS "vga"
    mov dx, 0x3D4
    mov al, 0x0E
    out dx, al
    inc dx
    in al, dx
    movzx eax, al
    HEX "cursor_hi", eax, 2
    dec dx
    mov al, 0x0F
    out dx, al
    inc dx
    in al, dx
    movzx eax, al
    HEX "cursor_lo", eax, 2
    mov al, 0x0A
    dec dx
    out dx, al
    inc dx
    in al, dx
    movzx eax, al
    HEX "cursor_start", eax, 2
    NL
    PUTS "screen row0: "
    mov esi, 0xB8000
    mov ecx, 40
.row:
    mov al, [esi]
    cmp al, 32
    jb .dot
    cmp al, 126
    jbe .put
.dot:
    mov al, '.'
.put:
    call putc
    add esi, 2
    loop .row
    NL
    mov eax, [0xB8001]
    and eax, 0xFF
    PUTS "screen"
    HEX "attr0", eax, 2
    NL
    EXIT 0
