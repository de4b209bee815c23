; watchpoints: data breakpoints (DR7 R/W = 01 write, 11 read or write) of each length and I/O
; breakpoints (R/W = 10, with CR4.DE and without): a #DB trap after the accessing instruction
; (its effects done, EIP at the next one), DR6 B0-B3 of the enabled breakpoints it matched (a
; disabled one sets none); unaligned accesses overlapping a watched range, a hit inside REP
; MOVSD (the trap after that iteration, EIP at the REP), accesses the CPU makes itself (a
; descriptor load, OUTSB's and REP OUTSB's reads, REP INSB's writes), IN/OUT/OUTSB on watched
; ports, a watch under paging that an alias of the same page does not trip (armed before
; paging and after), DR4 #UD with CR4.DE, DR6/DR7's reserved bits and DR7.GD (QEMU 7.2 raises
; no #DB for it). Last, from qemu_differs, three cases where QEMU 7.2 leaves the SDM.
%include "common.inc"
%include "dbsetup.inc"
DB_DATA hits

; DR7 bits: G<n> and the R/W and LEN fields of breakpoint n (LEN: 0 = 1, 1 = 2, 3 = 4, 2 = 8).
%define GE(n) (2 << (2 * (n)))
%define RWLEN(n, rw, len) (((rw) | ((len) << 2)) << (16 + 4 * (n)))
W       equ 1
RW      equ 3
IO      equ 2
L1      equ 0
L2      equ 1
L4      equ 3
L8      equ 2
CR4_DE  equ 0x08
CR4_PSE equ 0x10
PD      equ 0x380000                    ; page directory for the paging part
ALIAS   equ 0x400000                    ; linear 4-8 MiB map physical 0-4 MiB again

; ARM dr, value : load DRn (n = 0..3) with an address.
%macro SETDR 2
    mov eax, %2
    mov dr%1, eax
%endmacro
%macro DR7 1
    mov eax, %1
    mov dr7, eax
%endmacro

section .data
align 16
wvar:   dd 0x11111111, 0x22222222, 0x33333333, 0x44444444
src:    dd 1, 2, 3, 4, 5, 6, 7, 8
dbuf:   times 8 dd 0
msg:    db "ab"

section .text
main:
    DB_SETUP
    mov eax, ud_handler                 ; vector 6 (#UD): ud_handler
    mov [idt + 6*8], ax
    mov word [idt + 6*8 + 2], 8
    mov word [idt + 6*8 + 4], 0x8E00
    shr eax, 16
    mov [idt + 6*8 + 6], ax

    LINE "write, 1 byte"
    SETDR 0, wvar
    DR7 GE(0) | RWLEN(0, W, L1)
    mov al, [wvar]                      ; a read: no trap
    mov byte [wvar + 1], 0x55           ; outside the byte
    mov byte [wvar], 0x66               ; #DB after it
    mov [wvar - 3], eax                 ; its last byte is the watched one
    LINE "write, 2 bytes"
    DR7 GE(0) | RWLEN(0, W, L2)
    mov byte [wvar + 1], 0x77
    mov byte [wvar + 2], 0x77           ; outside
    mov word [wvar - 1], 0x1234         ; overlaps the first byte
    LINE "write, 4 bytes"
    DR7 GE(0) | RWLEN(0, W, L4)
    mov byte [wvar + 3], 0x88
    mov dword [wvar + 4], 0x99          ; outside
    mov dword [wvar + 2], 0xAABBCCDD    ; unaligned, overlapping two bytes
    LINE "write, 8 bytes"
    DR7 GE(0) | RWLEN(0, W, L8)
    mov byte [wvar + 7], 0x12
    mov byte [wvar + 8], 0x12           ; outside
    mov eax, wvar + 4
    xchg [eax], ecx                     ; read and write: one trap
    xor eax, eax
    mov dr7, eax
    HEX "wvar", [wvar], 8
    HEX " wvar+4", [wvar + 4], 8
    NL

    LINE "read or write, 4 bytes"
    SETDR 1, wvar + 8
    DR7 GE(1) | RWLEN(1, RW, L4)
    mov eax, [wvar + 8]                 ; a read traps
    mov eax, [wvar + 12]                ; outside
    add dword [wvar + 8], 5             ; read and write: one trap
    push dword [wvar + 10]
    pop eax
    mov ax, [wvar + 7]                  ; overlaps the first byte
    xor eax, eax
    mov dr7, eax
    HEX "wvar+8", [wvar + 8], 8
    NL

    LINE "rep movsd, the 4th dword watched"
    SETDR 2, dbuf + 12
    DR7 GE(2) | RWLEN(2, W, L4)
    mov esi, src
    mov edi, dbuf
    mov ecx, 8
rep_at:
    rep movsd
    xor eax, eax
    mov dr7, eax
    HEX "ecx", ecx, 8
    HEX " dbuf+12", [dbuf + 12], 8
    HEX " dbuf+28", [dbuf + 28], 8
    NL

    LINE "several breakpoints"
    SETDR 0, wvar
    SETDR 1, wvar + 4
    SETDR 2, wvar
    ; DR0 write 4, DR1 read/write 4, DR2 read/write 4 but disabled
    DR7 GE(0) | RWLEN(0, W, L4) | GE(1) | RWLEN(1, RW, L4) | RWLEN(2, RW, L4)
    mov eax, [wvar + 4]                 ; DR1 only (DR0 is write-only)
    mov eax, [wvar]                     ; no enabled one matches a read (DR2 is disabled)
    xor eax, eax
    mov dr7, eax

    LINE "accesses the CPU makes itself"
    SETDR 1, gdt + 0x10                 ; the data descriptor
    SETDR 2, msg
    DR7 GE(1) | RWLEN(1, RW, L4) | GE(2) | RWLEN(2, RW, L1)
    mov ax, 0x10
    mov ds, ax                          ; the descriptor read: #DB after it
    mov esi, msg
    mov dx, 0xE9
    outsb                               ; its read of [msg]: #DB after it
    SETDR 2, src + 2
    mov esi, src
    mov ecx, 4
rep_outs:
    rep outsb                           ; the 3rd byte's read: #DB at the REP, ECX 1
    SETDR 0, dbuf + 1
    DR7 GE(0) | RWLEN(0, W, L1)
    mov edi, dbuf
    mov ecx, 4
rep_ins:
    rep insb                            ; the 2nd byte's write: #DB at the REP, ECX 2
    xor eax, eax
    mov dr7, eax
    HEX "ecx", ecx, 8
    HEX " dbuf", [dbuf], 8
    NL

    LINE "I/O breakpoints (CR4.DE)"
    mov eax, cr4
    or eax, CR4_DE
    mov cr4, eax
    SETDR 0, 0xE9
    SETDR 1, 0xE8
    DR7 GE(0) | RWLEN(0, IO, L1) | GE(1) | RWLEN(1, IO, L4)
    mov al, 'x'
    out 0xE9, al                        ; DR0 and DR1
    mov dx, 0xE9
    in al, dx                           ; DR0 and DR1
    mov dx, 0xEA
    out dx, al                          ; DR1 only
    mov dx, 0xEC
    out dx, al                          ; neither
    mov dx, 0xE7
    out dx, ax                          ; 0xE7-0xE8: DR1
    mov esi, msg
    mov dx, 0xE9
    outsb                               ; DR0 and DR1
    DR7 GE(0) | RWLEN(0, IO, L1)
    mov al, 'y'
    mov dx, 0x3F8
    out dx, al                          ; COM1: not watched
    mov al, 10
    out dx, al
    xor eax, eax
    mov dr7, eax
    mov eax, dr4                        ; #UD while CR4.DE is set (3 bytes: the handler skips)

    LINE "paging: a watch on a linear address, an alias of its page"
    mov edi, PD
    xor eax, eax
    mov ecx, 1024
    rep stosd
    mov dword [PD], 0x83                ; 0-4 MiB: 4 MiB page at 0, present, writable
    mov dword [PD + 4], 0x83            ; 4-8 MiB: the same physical 4 MiB
    mov eax, cr4
    or eax, CR4_PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    SETDR 3, wvar + 12 + ALIAS          ; armed before paging: a linear address past the image
    DR7 GE(3) | RWLEN(3, W, L4)
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov dword [wvar + 12], 0xCAFE       ; the watched bytes through the other mapping: no trap
    mov dword [wvar + 12 + ALIAS], 0xF00D  ; #DB
    SETDR 3, wvar + 12
    mov dword [wvar + 12 + ALIAS], 0xCAFE  ; the same byte through the alias: no trap
    mov dword [wvar + 12], 0xBEEF       ; #DB
    xor eax, eax
    mov dr7, eax
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax

    LINE "DR6 and DR7 reserved bits"
    mov eax, 0xFFFFFFFF
    mov dr6, eax
    mov eax, dr6
    HEX "dr6 <- ones", eax, 8
    xor eax, eax
    mov dr6, eax
    mov eax, dr6
    HEX " dr6 <- 0", eax, 8
    mov eax, 0xFFFF_DC00
    mov dr7, eax
    mov eax, dr7
    HEX " dr7 <- 0xffffdc00", eax, 8
    NL
    xor eax, eax
    mov dr7, eax

    LINE "general detect"
    DR7 0x2000                          ; GD
    mov eax, dr0                        ; #DB (a fault) here if GD is implemented
    mov eax, dr7
    HEX "dr7", eax, 8
    NL
    xor eax, eax
    mov dr7, eax

    LINE "I/O breakpoint without CR4.DE"
    mov eax, cr4
    and eax, ~CR4_DE
    mov cr4, eax
    SETDR 0, 0xE9
    DR7 GE(0) | RWLEN(0, IO, L1)
    mov al, 'z'
    out 0xE9, al
    mov eax, dr5                        ; DR7 while CR4.DE is clear
    HEX "dr5", eax, 8
    NL
    xor eax, eax
    mov dr7, eax

qemu_differs:                           ; from here QEMU 7.2 leaves the SDM (tests/test_trace_regression.py)
    ; tools/qemu_ref.py writes the SDM's lines into the reference.
    LINE "data breakpoints as the SDM has them"
    ; SDM 17.2.4: B0-B3 say which breakpoints' conditions were met; QEMU 7.2 stops at the
    ; first watchpoint that matches and reports it alone.
    SETDR 0, wvar
    SETDR 1, wvar + 4
    SETDR 3, wvar + 8
    DR7 GE(0) | RWLEN(0, W, L4) | GE(1) | RWLEN(1, RW, L4) | GE(3) | RWLEN(3, W, L8)
    mov dword [wvar + 2], 0x01020304    ; DR0 and DR1 (DR3's quadword is not reached)
several_next:
    ; SDM 17.2.5: the processor masks DRn's low bits by LEN (a 4-byte range is dword
    ; aligned); QEMU 7.2 watches [DRn, DRn + LEN) as it is.
    SETDR 0, wvar + 2
    DR7 GE(0) | RWLEN(0, W, L4)
    mov byte [wvar], 0x42               ; the SDM's range is wvar..wvar+3: #DB
masked_next:
    ; SDM 17.3.1.4 and table 6-2: the single-step trap and a data breakpoint's come after the
    ; same instruction as one #DB, DR6 with BS and B0; QEMU 7.2 raises the single-step #DB
    ; and then the watchpoint's at the handler's first instruction.
    pushfd
    or dword [esp], 0x100
    popfd
    mov dword [wvar], 7                 ; TF and DR0 (still armed, write, 4 bytes)
step_watch_next:
    pushfd
    and dword [esp], ~0x100
    popfd
    xor eax, eax
    mov dr7, eax
    mov eax, [hits]
    HEX "hits", eax, 8
    NL
    EXIT 0

ud_handler:
    push eax
    mov eax, [esp+4]
    HEX "#UD eip", eax, 8
    NL
    add dword [esp+4], 3                ; over the 3-byte MOV from DR4
    pop eax
    iret

db_handler:
    inc dword [hits]
    push eax
    mov eax, [esp+4]
    HEX "#DB eip", eax, 8
    mov eax, dr6
    HEX " dr6", eax, 8
    HEX " ecx", ecx, 8
    NL
    xor eax, eax
    mov dr6, eax
    pop eax
    iret
