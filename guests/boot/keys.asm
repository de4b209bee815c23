; keys.asm: the boot sector of a FAT12 floppy (keys.img) that loads and runs KEYS.COM, DOS-style.
; Its second sector (the FAT's second reserved sector) reads the root directory (sectors 20-33)
; with INT 13h AH=02h, finds KEYS    COM by name, reads the FAT (sectors 2-10), loads the file's cluster chain to 1000:0100 and enters it as a
; COM program (CS = DS = ES = SS = 1000h, SP = FFFEh). keysprog.asm is the program.
%define FAT12_BPB
STAGE2_SECTORS equ 1                    ; in the FAT's reserved sectors (the BPB says 2)
FAT_LBA equ 1 + STAGE2_SECTORS
ROOT_LBA equ FAT_LBA + 2 * 9
DATA_LBA equ ROOT_LBA + 14              ; cluster 2
BUF equ 0x8000                          ; root directory, then the FAT
%include "boot16.inc"
%include "exit16.inc"
%include "stage2.inc"

main:
    mov ax, ROOT_LBA                    ; the root directory: 14 sectors
    mov cx, 14
    mov bx, BUF
    call read
    mov di, BUF
    mov dx, 224
.entry:
    mov si, name
    mov cx, 11
    push di
    repe cmpsb
    pop di
    je .found
    add di, 32
    dec dx
    jnz .entry
    PL "fat12: KEYS.COM not found"
    mov al, 1
    jmp EXIT_STUB
.found:
    mov bp, [di + 26]                   ; the first cluster
    H4 "fat12: KEYS.COM cluster=", bp
    H4 " size=", [di + 28]
    mov ax, FAT_LBA                     ; the FAT: 9 sectors
    mov cx, 9
    mov bx, BUF
    call read
    push word 0x1000
    pop es
    mov bx, 0x0100
    xor dx, dx                          ; clusters loaded
.cluster:
    lea ax, [bp + DATA_LBA - 2]
    mov cx, 1
    call read
    add bx, 512
    inc dx
    mov si, bp                          ; the FAT entry: 12 bits at cluster * 3 / 2
    shr si, 1
    add si, bp
    mov ax, [BUF + si]
    test bp, 1
    jz .even
    shr ax, 4
.even:
    and ax, 0x0FFF
    mov bp, ax
    cmp ax, 0x0FF8
    jb .cluster
    H2 " clusters=", dl
    PL ", running it"
    mov ax, 0x1000
    mov ds, ax
    mov es, ax
    cli
    mov ss, ax
    mov sp, 0xFFFE
    sti
    jmp 0x1000:0x0100

; read: CX sectors from LBA AX to ES:BX, one INT 13h AH=02h each (1.44 MB geometry).
read:
    pusha
.next:
    push ax
    push cx
    xor dx, dx
    mov cx, 18
    div cx                              ; AX = track, DX = sector - 1
    mov cl, dl
    inc cx
    mov dh, al
    and dh, 1                           ; head = track & 1
    shr ax, 1
    mov ch, al                          ; cylinder = track / 2
    mov dl, [ENTRY_DL]
    mov ax, 0x0201
    int 0x13
    pop cx
    pop ax
    jc .fail
    inc ax
    add bx, 512
    loop .next
    popa
    ret
.fail:
    mov al, 2
    jmp EXIT_STUB

name: db "KEYS    COM"
STAGE2_END
