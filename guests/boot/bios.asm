; bios.asm: the BIOS services of issue #16 item 3 called from real mode, their results printed.
; INT 11h, 12h; INT 15h E801h, 88h, C0h (the configuration table's bytes), 86h; INT 1Ah ticks,
; RTC time (hours and minutes: the RTC starts at 2000-01-01 00:00:00) and date, and the ticks
; compared with the RTC's seconds; INT 16h shift flags and an empty buffer; INT 10h 0Fh, 11h30h
; (two fonts' heights), 12h BL=10h, 09h then 08h (a character and attribute written and read
; back), 03h; INT 14h (COM1: init 9600 8N1, a character sent, status); the BIOS data area's
; COM1 port, EBDA segment, memory size, equipment word and video fields.
STAGE2_SECTORS equ 6
%include "boot16.inc"
%include "exit16.inc"
%include "stage2.inc"

main:
    int 0x11
    H4 "int11: ax=", ax
    int 0x12
    H4 "  int12: ax=", ax
    call newline
    P "int15 ax=e801:"
    xor bx, bx
    xor cx, cx
    xor dx, dx
    mov ax, 0xE801
    int 0x15
    call cfah
    H4 " ax=", ax
    H4 " bx=", bx
    H4 " cx=", cx
    H4 " dx=", dx
    call newline
    P "int15 ah=88:"
    mov ah, 0x88
    int 0x15
    call cfah
    H4 " ax=", ax
    call newline
    P "int15 ah=c0:"
    push es
    mov ah, 0xC0
    int 0x15
    call cfah
    H4 " table size=", [es:bx]
    P " bytes:"
    mov cx, 8
    lea si, [bx + 2]
.c0:
    H2 " ", [es:si]
    inc si
    loop .c0
    pop es
    call newline
    P "int15 ah=86 cx:dx=0000:03e8:"
    mov ah, 0x86
    xor cx, cx
    mov dx, 1000                        ; 1 ms
    int 0x15
    call cfah
    call newline

    ; INT 1Ah
    P "int1a ah=02:"
    mov ah, 0x02
    int 0x1A
    call cfah
    H2 " hours=", ch
    H2 " minutes=", cl
    H2 " dst=", dl
    mov [rtc_seconds], dh
    call newline
    P "int1a ah=04:"
    mov ah, 0x04
    int 0x1A
    call cfah
    H2 " century=", ch
    H2 " year=", cl
    H2 " month=", dh
    H2 " day=", dl
    call newline
    mov ah, 0x00
    int 0x1A
    H2 "int1a ah=00: al=", al
    ; ticks (18.2 a second) against the RTC's seconds read just before (BCD)
    mov ax, dx
    mov cx, 10
    mul cx
    mov cx, 182
    div cx                              ; AX = seconds the ticks count
    mov bl, [rtc_seconds]
    mov bh, bl
    shr bh, 4
    and bl, 0x0F
    mov cl, bh
    shl bh, 3
    shl cl, 1
    add bl, bh
    add bl, cl                          ; BL = the RTC's seconds in binary
    xor bh, bh
    sub ax, bx
    jns .abs
    neg ax
.abs:
    cmp ax, 3
    setb al
    H2 " ticks within 2 s of the rtc=", al
    call newline

    ; INT 16h
    mov ah, 0x02
    int 0x16
    H2 "int16 ah=02: al=", al
    mov ah, 0x01
    int 0x16
    setz al
    H2 "  int16 ah=01: zf=", al
    call newline

    ; INT 10h
    mov ah, 0x0F
    int 0x10
    H2 "int10 ah=0f: al=", al
    H2 " ah=", ah
    H2 " bh=", bh
    call newline
    mov bh, 0x03
    call font
    mov bh, 0x06
    call font
    mov ah, 0x12
    mov bl, 0x10
    mov cx, 0xFFFF
    int 0x10
    H2 "int10 ah=12 bl=10: bh=", bh
    H2 " bl=", bl
    H4 " cx=", cx
    call newline
    P "int10 ah=09 al=5a bl=1e cx=0003 then ah=08:"
    mov ax, 0x095A
    mov bx, 0x001E
    mov cx, 3
    int 0x10
    mov ah, 0x08
    xor bh, bh
    int 0x10
    push ax
    mov ah, 0x03                        ; AH=09h leaves the cursor: step over the three Zs
    int 0x10
    add dl, 3
    mov ah, 0x02
    int 0x10
    pop ax
    H2 " al=", al
    H2 " ah=", ah
    call newline
    mov ah, 0x03
    xor bh, bh
    int 0x10
    H2 "int10 ah=03: row=", dh
    H2 " col=", dl
    H4 " shape=", cx
    call newline

    ; INT 14h
    mov ax, 0x00E3                      ; 9600 baud, no parity, 1 stop bit, 8 bits
    xor dx, dx
    int 0x14
    H2 "int14 ah=00 al=e3: ah=", ah
    H2 " al=", al
    call newline
    P "int14 ah=01 al=21: "
    mov ax, 0x0121
    xor dx, dx
    int 0x14
    H2 " ah=", ah
    call newline
    mov ah, 0x03
    xor dx, dx
    int 0x14
    H2 "int14 ah=03: ah=", ah
    H2 " al=", al
    call newline

    ; the BIOS data area
    H4 "bda: com1=", [0x400]
    H4 " ebda=", [0x40E]
    H4 " equipment=", [0x410]
    H4 " memory=", [0x413]
    H2 " mode=", [0x449]
    H4 " columns=", [0x44A]
    H2 " rows-1=", [0x484]
    H4 " crtc=", [0x463]
    call newline
    xor al, al
    jmp EXIT_STUB

; font: INT 10h AX=1130h for font BH: bytes per character (CX) and rows - 1 (DL).
font:
    push es
    push bp
    mov ax, 0x1130
    int 0x10
    pop bp
    pop es
    H2 "int10 ax=1130 bh=", bh
    H4 ": cx=", cx
    H2 " dl=", dl
    jmp newline

rtc_seconds: db 0
STAGE2_END
