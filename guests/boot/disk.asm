; disk.asm: INT 13h on a floppy (CHS) and a hard disk (CHS and the 42h extension).
; Booted from disk.img (1.44 MB floppy) with disk_hd.img (2 MiB, 4096 sectors) as the first hard
; disk. The boot sector loads this second stage with INT 13h AH=02h; it then reads the test
; pattern tools/mkbootimg.py wrote (byte i of sector LBA is (LBA * 7 + i) & 0xFF) from both
; disks and prints for each read the result registers, a 16-bit sum of the bytes and how many
; differ from the pattern, and the results of AH=00h/01h/08h/15h/41h/48h, reads past the end of
; each disk, of a sector past the track and of a missing drive (the error codes). A third
; stage (disk3.asm) is loaded from the hard disk with AH=42h and run.
STAGE2_SECTORS equ 6
BUF_SEG equ 0x1000                      ; reads land at 1000:0000
STAGE3_LBA equ 4000                     ; disk3.asm on the hard disk (guests/boot/build.sh)
%include "boot16.inc"
%include "exit16.inc"
%include "stage2.inc"

; CHS drive, cylinder, head, sector, count: AH=02h into BUF_SEG:0, then the pattern check.
%macro CHS 5
    mov dl, %1
    mov ch, %2
    mov dh, %3
    mov cl, %4
    mov al, %5
    mov ebx, ((%2) * HEADS_%1 + (%3)) * SPT_%1 + (%4) - 1
    call chs_read
%endmacro
HEADS_0 equ 2                           ; the floppy: 80 cylinders, 2 heads, 18 sectors
SPT_0 equ 18
HEADS_0x80 equ 16                       ; the hard disk as SeaBIOS translates it (printed below)
SPT_0x80 equ 63

; EXT drive, lba, count: AH=42h through the DAP into BUF_SEG:0, then the pattern check.
%macro EXT 3
    mov dl, %1
    mov ebx, %2
    mov cx, %3
    call ext_read
%endmacro

main:
    H2 "disk: stage 2 loaded, boot dl=", [ENTRY_DL]
    call newline
    P "int13 ah=00 dl=00:"              ; reset both drives
    mov ah, 0x00
    mov dl, 0x00
    int 0x13
    call cfah
    call newline
    P "int13 ah=00 dl=80:"
    mov ah, 0x00
    mov dl, 0x80
    int 0x13
    call cfah
    call newline

    ; floppy geometry and its parameter table (ES:DI)
    P "int13 ah=08 dl=00:"
    mov ah, 0x08
    mov dl, 0x00
    push es
    int 0x13
    call cfah
    H2 " bl=", bl
    H2 " ch=", ch
    H2 " cl=", cl
    H2 " dh=", dh
    H2 " dl=", dl
    call newline
    P "  diskette parameter table:"
    mov cx, 11
.dpt:
    H2 " ", [es:di]
    inc di
    loop .dpt
    pop es
    call newline

    ; floppy reads: a whole track on head 1, the next cylinder, a track's end, the last sector,
    ; one across the head (multi-track), past the track, past the last cylinder
    CHS 0, 0, 1, 1, 18
    CHS 0, 1, 0, 1, 18
    CHS 0, 1, 1, 17, 2
    CHS 0, 79, 1, 18, 1
    CHS 0, 1, 0, 10, 18
    CHS 0, 0, 0, 19, 1
    CHS 0, 80, 0, 1, 1
    P "int13 ah=01 dl=00:"              ; the status of the last operation
    mov ah, 0x01
    mov dl, 0x00
    int 0x13
    call cfah
    call newline

    ; disk types and change line
    mov dl, 0x00
    call type15
    mov dl, 0x80
    call type15
    mov dl, 0x81
    call type15

    ; hard disk geometry
    P "int13 ah=08 dl=80:"
    mov ah, 0x08
    mov dl, 0x80
    push es
    int 0x13
    pop es
    call cfah
    H2 " ch=", ch
    H2 " cl=", cl
    H2 " dh=", dh
    H2 " dl=", dl
    call newline
    P "int13 ah=08 dl=81:"
    mov ah, 0x08
    mov dl, 0x81
    push es
    int 0x13
    pop es
    call cfah
    call newline

    ; extensions present?
    mov dl, 0x80
    call check41
    mov dl, 0x00
    call check41

    ; drive parameters (EDD 3.0 buffer size)
    mov word [params], 0x1E
    P "int13 ah=48 dl=80:"
    mov si, params
    mov ah, 0x48
    mov dl, 0x80
    int 0x13
    call cfah
    H4 " size=", [params]
    H4 " flags=", [params + 2]
    H8 " cyls=", [params + 4]
    H8 " heads=", [params + 8]
    H8 " spt=", [params + 12]
    call newline
    H8 "  sectors=", [params + 20]
    H8 ":", [params + 16]
    H4 " bytes/sector=", [params + 24]
    call newline

    ; hard disk reads: CHS, then LBA through the extension, the last sector, past the end
    CHS 0x80, 0, 0, 2, 4
    CHS 0x80, 0, 1, 1, 63
    EXT 0x80, 1, 16
    EXT 0x80, 100, 100
    EXT 0x80, 4095, 1
    EXT 0x80, 4096, 1
    EXT 0x80, 4090, 8
    P "int13 ah=42 dl=80 lba=00000fa0 n=0001 -> 0000:9000:"
    mov byte [dap], 0x10                ; the third stage, run where it was loaded
    mov byte [dap + 1], 0
    mov word [dap + 2], 1
    mov dword [dap + 4], 0x00009000
    mov dword [dap + 8], STAGE3_LBA
    mov dword [dap + 12], 0
    mov si, dap
    mov ah, 0x42
    mov dl, 0x80
    int 0x13
    call cfah
    call newline
    jc .no_stage3
    call 0x9000
.no_stage3:
    P "int13 ah=01 dl=80:"
    mov ah, 0x01
    mov dl, 0x80
    int 0x13
    call cfah
    call newline
    mov al, [bad_total]
    test al, al
    setnz al                            ; status 1 (QEMU: 3) if a read returned other bytes
    jmp EXIT_STUB

; chs_read: AH=02h of AL sectors at CH/DH/CL of drive DL into BUF_SEG:0; EBX = the first LBA.
chs_read:
    pusha
    H2 "int13 ah=02 dl=", dl
    H2 " c=", ch
    H2 " h=", dh
    H2 " s=", cl
    H2 " n=", al
    P ":"
    push es
    push ax
    mov ax, BUF_SEG
    mov es, ax
    pop ax
    push bx
    xor bx, bx
    mov ah, 0x02
    int 0x13
    pop bx
    pop es
    call cfah
    pushf
    H2 " al=", al
    popf
    jc .done
    movzx cx, al
    call verify
.done:
    call newline
    popa
    ret

; ext_read: AH=42h of CX sectors at LBA EBX of drive DL into BUF_SEG:0.
ext_read:
    pusha
    H2 "int13 ah=42 dl=", dl
    H8 " lba=", ebx
    H4 " n=", cx
    P ":"
    mov byte [dap], 0x10
    mov byte [dap + 1], 0
    mov [dap + 2], cx
    mov word [dap + 4], 0
    mov word [dap + 6], BUF_SEG
    mov [dap + 8], ebx
    mov dword [dap + 12], 0
    mov si, dap
    mov ah, 0x42
    int 0x13
    call cfah
    pushf
    H4 " dap.n=", [dap + 2]
    popf
    jc .done
    mov cx, [dap + 2]
    call verify
.done:
    call newline
    popa
    ret

; verify: prints " sum=SSSS bad=BBBB" (sum: rotate left, add each byte) for CX sectors at BUF_SEG:0 holding sectors EBX on.
verify:
    pushad
    push es
    mov ax, BUF_SEG
    mov es, ax
    xor si, si
    xor dx, dx                          ; the sum
    xor di, di                          ; bytes not as the pattern
.sector:
    mov al, bl
    mov ah, 7
    mul ah                              ; AL = (LBA * 7) & 0xFF: byte 0's value
    mov ah, al
    push cx
    mov cx, 512
.byte:
    movzx bp, byte [es:si]
    rol dx, 1                           ; an order-sensitive sum
    add dx, bp
    cmp [es:si], ah
    je .same
    inc di
.same:
    inc ah
    inc si
    jnz .next
    mov bp, es                          ; the next 64 KiB
    add bp, 0x1000
    mov es, bp
.next:
    loop .byte
    pop cx
    inc ebx
    loop .sector
    pop es
    H4 " sum=", dx
    H4 " bad=", di
    or [bad_total], di
    popad
    ret

; type15: AH=15h for drive DL: the type in AH, for a hard disk the sectors in CX:DX.
type15:
    pusha
    H2 "int13 ah=15 dl=", dl
    P ":"
    xor cx, cx                          ; CX and DX are results only for a hard disk
    xor dh, dh
    mov ah, 0x15
    int 0x13
    call cfah
    H4 " cx=", cx
    H4 " dx=", dx
    call newline
    popa
    ret

; check41: AH=41h BX=55AAh for drive DL: the version in AH, BX=AA55h, the interfaces in CX.
check41:
    pusha
    H2 "int13 ah=41 dl=", dl
    P ":"
    xor cx, cx
    mov ah, 0x41
    mov bx, 0x55AA
    int 0x13
    call cfah
    H4 " bx=", bx
    H4 " cx=", cx
    call newline
    popa
    ret

dap: times 16 db 0
params: times 0x1E db 0
bad_total: dw 0
STAGE2_END
