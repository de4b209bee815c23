; hello.asm: a one-sector floppy boot guest: INT 10h teletype, cursor, scroll, the entry registers.
; Prints on COM1 and the screen what the BIOS left at the entry (DL, CS:IP by call/pop, SS:SP,
; IF), the cursor INT 10h AH=03h reports after printing and after AH=02h, a window scrolled up
; (AH=06h) and down (AH=07h), and the teletype scrolling the screen at the bottom row.
STAGE2_SECTORS equ 0
%include "boot16.inc"

main:
    PL "hello"
    P "entry dl="
    mov al, [ENTRY_DL]
    call hex2
    P " cs:ip="
    mov ax, [ENTRY_CS]
    call hex4
    mov al, ':'
    call putc
    mov ax, [ENTRY_IP]
    call hex4
    P " ss:sp="
    mov ax, [ENTRY_SS]
    call hex4
    mov al, ':'
    call putc
    mov ax, [ENTRY_SP]
    call hex4
    P " if="
    mov ax, [ENTRY_FLAGS]
    bt ax, 9
    call bit1
    call newline
    call cursor                         ; where two lines of teletype left it
    mov ah, 0x02                        ; cursor to row 8, column 60, then two characters
    xor bh, bh
    mov dx, 0x083C
    int 0x10
    P "hi"
    call cursor
    mov ax, 0x0601                      ; scroll rows 0-1 up by one: the first line goes
    mov bh, 0x07
    xor cx, cx
    mov dx, 0x014F
    int 0x10
    mov ax, 0x0701                      ; scroll rows 3-4 down by one: row 3 is blank after
    mov cx, 0x0300
    mov dx, 0x044F
    int 0x10
    mov ah, 0x02                        ; the bottom row: each newline scrolls the screen
    xor bh, bh
    mov dx, 0x1800
    int 0x10
    PL "bottom"
    call cursor
    xor al, al
    jmp EXIT_STUB

; cursor: prints the cursor's position and shape from INT 10h AH=03h (page 0).
cursor:
    mov ah, 0x03
    xor bh, bh
    int 0x10
    P "cursor row="
    mov al, dh
    call hex2
    P " col="
    mov al, dl
    call hex2
    P " shape="
    mov ax, cx
    call hex4
newline:
    mov al, 10
    jmp putc

%include "exit16.inc"
