; debugregs: instruction breakpoints in DR0-DR3 enabled by DR7: #DB (a fault) before the
; instruction, DR6 B0-B3 naming the register, the pushed EFLAGS without RF; the handler sets RF
; in the frame so the instruction runs once; a breakpoint in the middle of a loop's block and
; on a called function; none once DR7 is cleared.
%include "common.inc"
%include "dbsetup.inc"
DB_DATA hits
main:
    DB_SETUP
    mov eax, bp1
    mov dr0, eax
    mov eax, bp2
    mov dr1, eax
    mov eax, 0x0000000a           ; G0 (bit 1) and G1 (bit 3), both execute (R/W = 00)
    mov dr7, eax
    mov ecx, 8
loop1:
    inc ebx
bp1:
    inc esi                       ; breakpoint DR0, in the middle of a loop block
    dec ecx
    jnz loop1
    call fn
    xor eax, eax
    mov dr7, eax
    call fn                       ; no breakpoint any more
    mov eax, [hits]
    HEX "hits", eax, 8
    mov eax, dr6
    HEX " dr6", eax, 8
    HEX " esi", esi, 8
    NL
    EXIT 0
fn:
bp2:
    nop
    ret
db_handler:
    inc dword [hits]
    push eax
    mov eax, [esp+4]
    HEX "#DB eip", eax, 8
    mov eax, dr6
    HEX " dr6", eax, 8
    mov eax, [esp+12]
    HEX " eflags", eax, 8
    NL
    or dword [esp+12], 0x10000    ; RF: the instruction runs when the handler returns
    pop eax
    iret
