; csoverride: data accesses through CS from a code segment based at 0x1000 (own GDT): explicit
; ModRM and moffs operands, 16-bit addressing, XLAT, string sources, FPU/SSE/PUSH m operands,
; MASKMOVQ/MASKMOVDQU, "last segment prefix wins", writes through CS, a CS limit and an
; execute-only CS, and instructions of 15 and 16 bytes. Prints what it sees; a fault prints its
; vector, error code and the faulting EIP (an offset in the code segment) and resumes.
%include "common.inc"

B equ 0x1000                            ; base of the code segments 0x18, 0x20, 0x28

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 0x08 code, flat (the fault handler runs here)
    dq 0x00CF92000000FFFF               ; 0x10 data, flat
    dq 0x00CF9A001000FFFF               ; 0x18 code, base 0x1000, limit 4 GiB, readable
    dq 0x00C09A00100001FF               ; 0x20 code, base 0x1000, limit 0x1fffff, readable
    dq 0x00CF98001000FFFF               ; 0x28 code, base 0x1000, limit 4 GiB, execute-only
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 32 * 8 - 1
        dd idt
resume: dd 0
xtab:   db 0x10, 0x21, 0x32, 0x43, 0x54, 0x65, 0x76, 0x87
str1:   db "CSOK"
str2:   db "CSxK"
flt:    dd 1234.0
mmdata: dq 0x8877665544332211
mmmask: dq 0x8000800080008000
xmmask: dq 0x8080808080808080, 0x0000000000000080
zeros:  dd 0, 0
newimm: dd 0x22222222
newimm2: dd 0x33333333
align 16
v16:    dd 0x0A0B0C0D, 1, 2, 3
align 4096
decoy:  dd 0xDEC0DE00                   ; DS:decoy (CS:decoy is `val`)
        times 4096 - 4 db 0
val:    dd 0x600DF00D, 0x11112222, 0x33334444
dst:    dd 0, 0, 0, 0

section .bss
align 8
idt:    resq 32

section .text
; A fault handler per vector: the frame gets an error code of 0xffff where the CPU pushes none.
%macro STUB 1
stub%1:
%if %1 == 8 || (%1 >= 10 && %1 <= 14) || %1 == 17
%else
    push dword 0xFFFF
%endif
    push dword %1
    jmp fault
%endmacro
%assign v 0
%rep 20
STUB v
%assign v v+1
%endrep
stubs:
%assign v 0
%rep 20
    dd stub %+ v
%assign v v+1
%endrep

fault:                                  ; [esp] vector, error code, EIP, CS, EFLAGS
    pushad
    mov ebx, [esp + 32]
    mov edx, [esp + 36]
    mov edi, [esp + 40]
    mov ebp, [esp + 44]
    PUTS " fault"
    HEX "vec", ebx, 2
    HEX "err", edx, 4
    HEX "eip", edi, 8
    HEX "cs", ebp, 2
    mov eax, [resume]
    mov [esp + 40], eax
    popad
    add esp, 8
    iretd

; TRY "name", resume_label : print the name; a fault goes on at the label (an offset in CS).
%macro TRY 2
    mov dword [resume], %2 - B
    PUTS %1
%endmacro

main:
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    lgdt [gdtr]
    jmp 0x08:.flat
.flat:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ecx, ecx
.gate:
    mov ebx, [stubs + ecx * 4]
    mov [idt + ecx * 8], bx
    mov word [idt + ecx * 8 + 2], 0x08
    mov word [idt + ecx * 8 + 4], 0x8E00
    shr ebx, 16
    mov [idt + ecx * 8 + 6], bx
    inc ecx
    cmp ecx, 20
    jb .gate
    lidt [idtr]
    mov eax, cr4
    or eax, 0x600                       ; OSFXSR, OSXMMEXCPT: SSE instructions run
    mov cr4, eax
    mov dword [0x2000], 0x44332211      ; CS:0x1000 for the 16-bit addressing tests
    mov dword [0x2004], 0x01010101
    mov dword [0x2008], 0x10101010
    mov dword [0x3000], "CSOK"
    mov dword [0x3010], "CSxK"
    jmp 0x18:based - B

based:
    LINE "in CS 0x18 (base 0x1000, limit 4 GiB, readable)"
    TRY "mov ebx,[cs:d32]", .t1
    mov ebx, [cs:val - B]
    HEX "ebx", ebx, 8
.t1: NL
    TRY "mov eax,[cs:moffs]", .t2
    mov eax, [cs:val - B]
    HEX "eax", eax, 8
.t2: NL
    TRY "mov al,[cs:moffs]", .t3
    mov eax, 0xFFFFFFFF
    mov al, [cs:val - B + 4]
    HEX "eax", eax, 8
.t3: NL
    TRY "mov eax,[cs:esi+ecx*4+4]", .t4
    mov esi, val - B
    mov ecx, 1
    mov eax, [cs:esi + ecx * 4 + 4]
    HEX "eax", eax, 8
.t4: NL
    TRY "movzx eax,word [cs:d32]", .t5
    movzx eax, word [cs:val - B + 2]
    HEX "eax", eax, 8
.t5: NL
    TRY "add eax,[cs:ebx]", .t6
    mov ebx, val - B
    mov eax, 1
    add eax, [cs:ebx]
    HEX "eax", eax, 8
.t6: NL
    TRY "a16 mov eax,[cs:bx] in a loop", .t7
    mov ebx, 0xFFFF1000
    xor edx, edx
    mov ecx, 3
.l7:
    a16 mov eax, [cs:bx]                ; the monitor patches the address each time
    add edx, eax
    add bx, 4
    loop .l7
    HEX "edx", edx, 8
.t7: NL
    TRY "a16 mov eax,[cs:bx+si] (wraps)", .t8
    mov ebx, 0xF000
    mov esi, 0x2000
    a16 mov eax, [cs:bx + si]
    HEX "eax", eax, 8
.t8: NL
    TRY "cs xlatb", .t9
    mov ebx, xtab - B
    mov eax, 0xFFFFFF03
    cs xlatb
    HEX "eax", eax, 8
    HEX "ebx", ebx, 8
.t9: NL
    TRY "cs lodsb", .t10
    mov esi, str1 - B
    mov eax, 0
    cs lodsb
    HEX "eax", eax, 8
    HEX "esi", esi, 8
.t10: NL
    TRY "cs movsd", .t11
    mov esi, val - B
    mov edi, dst
    cs movsd
    HEX "dst", [dst], 8
    HEX "esi", esi, 8
    HEX "edi", edi, 8
.t11: NL
    TRY "rep cs movsb", .t12
    mov esi, val - B + 4
    mov edi, dst + 4
    mov ecx, 7
    rep cs movsb
    HEX "dst4", [dst + 4], 8
    HEX "dst8", [dst + 8], 8
    HEX "esi", esi, 8
    HEX "ecx", ecx, 8
.t12: NL
    TRY "cs cmpsb", .t13
    mov esi, str1 - B
    mov edi, str1
    cs cmpsb
    setz al
    movzx eax, al
    HEX "zf", eax, 1
    HEX "esi", esi, 8
.t13: NL
    TRY "repe cs cmpsb", .t14
    mov esi, str1 - B
    mov edi, str2
    mov ecx, 4
    repe cs cmpsb
    HEX "ecx", ecx, 8
    HEX "esi", esi, 8
.t14: NL
    TRY "fld dword [cs:d32]", .t15
    fninit
    fld dword [cs:flt - B]
    fistp dword [dst]
    HEX "int", [dst], 8
.t15: NL
    TRY "movups xmm0,[cs:d32]", .t16
    movups xmm0, [cs:v16 - B]
    movd eax, xmm0
    HEX "eax", eax, 8
.t16: NL
    TRY "push dword [cs:d32]", .t17
    push dword [cs:val - B + 8]
    pop eax
    HEX "eax", eax, 8
.t17: NL
    TRY "ds cs mov eax,[decoy]", .t18
    db 0x3E, 0x2E
    mov eax, [decoy]
    HEX "eax", eax, 8
.t18: NL
    TRY "cs ds mov eax,[decoy]", .t19
    db 0x2E, 0x3E
    mov eax, [decoy]
    HEX "eax", eax, 8
.t19: NL
    TRY "cs maskmovq", .t20
    mov dword [dst], 0
    mov dword [dst + 4], 0
    movq mm0, [mmdata]
    movq mm1, [mmmask]
    mov edi, dst - B
.gp_maskmovq:
    cs maskmovq mm0, mm1
    HEX "dst", [dst], 8
.t20: emms
    NL
    TRY "cs maskmovdqu", .t21
    mov dword [dst], 0
    movdqu xmm0, [mmdata]
    movdqu xmm1, [xmmask]
    mov edi, dst - B
.gp_maskmovdqu:
    cs maskmovdqu xmm0, xmm1
    HEX "dst", [dst], 8
.t21: NL
    TRY "mov [cs:d32],eax", .t22
    mov eax, 0x12345678
.gp_write:
    mov [cs:dst - B], eax
    HEX "dst", [dst], 8
.t22: NL
    TRY "pop dword [cs:d32]", .t23
    push dword 0x5555AAAA
.gp_pop:
    pop dword [cs:dst - B]
    HEX "dst", [dst], 8
.t23: NL
    TRY "15-byte mov", .t24
    mov eax, 0
    times 10 db 0x3E
    mov eax, [val]
    HEX "eax", eax, 8
.t24: NL
    TRY "16-byte mov", .t25
    mov eax, 0
.long16:
    times 11 db 0x3E
    mov eax, [val]
    HEX "eax", eax, 8
.t25: NL
    PUTS "16-byte mov at"
    HEX "eip", .long16 - B, 8
    NL
    ; A string read through CS whose write lands on translated code: the write is re-run
    ; alone, and the guest's ESI must come out unbiased.
    TRY "cs movsd onto code", .t26
    call patchme
    mov esi, newimm - B
    mov edi, patchme + 1
    cs movsd
    HEX "esi", esi, 8
    call patchme
    HEX "eax", eax, 8
.t26: NL
    TRY "rep cs movsb onto code", .t27
    mov esi, newimm2 - B
    mov edi, patchme + 1
    mov ecx, 4
    rep cs movsb
    HEX "esi", esi, 8
    HEX "ecx", ecx, 8
    call patchme
    HEX "eax", eax, 8
.t27: NL
    TRY "a16 mov eax,[cs:0x1000]", .t28
    a16 mov eax, [cs:0x1000]
    HEX "eax", eax, 8
.t28: NL
    TRY "a16 cs xlatb", .t30
    mov ebx, 0x12342000                 ; BX 0x2000: CS:0x2001 is linear 0x3001
    mov eax, 0xFFFFFF01
    a16 cs xlatb
    HEX "eax", eax, 8
.t30: NL
    TRY "a16 cs lodsw", .t31
    mov esi, 0xABCD2000
    mov eax, 0
    a16 cs lodsw
    HEX "eax", eax, 8
    HEX "esi", esi, 8
.t31: NL
    TRY "a16 rep cs movsb", .t32
    mov esi, 0x00012000
    mov edi, 0x00013020                 ; ES:DI = linear 0x3020
    mov ecx, 0x00050004
    a16 rep cs movsb
    HEX "dst", [0x3020], 8
    HEX "esi", esi, 8
    HEX "edi", edi, 8
    HEX "ecx", ecx, 8
.t32: NL
    TRY "a16 repe cs cmpsb", .t33
    mov esi, 0x2000
    mov edi, 0x3010
    mov ecx, 4
    a16 repe cs cmpsb
    pushfd
    pop eax
    and eax, 0x8D5
    HEX "flags", eax, 4
    HEX "esi", esi, 8
    HEX "ecx", ecx, 8
.t33: NL
    TRY "a16 std cs lodsb", .t34
    mov esi, 0x2003
    std
    a16 cs lodsb
    cld
    HEX "eax", eax, 8
    HEX "esi", esi, 8
.t34: NL
    TRY "a16 mov al,[cs:moffs16]", .t29
    mov eax, 0
    a16 mov al, [cs:word 0x1001]
    HEX "eax", eax, 8
.t29: NL
    jmp 0x20:limited - B

patchme:
    mov eax, 0x11111111
    ret

limited:
    LINE "in CS 0x20 (base 0x1000, limit 0x1fffff)"
    TRY "mov eax,[cs:0x1ffffc]", .l1
    mov eax, [cs:0x1FFFFC]
    HEX "eax", eax, 8
.l1: NL
    TRY "mov eax,[cs:0x1ffffe]", .l2
.gp_straddle:
    mov eax, [cs:0x1FFFFE]
    HEX "eax", eax, 8
.l2: NL
    TRY "mov eax,[cs:0x300000]", .l3
.gp_beyond:
    mov eax, [cs:0x300000]
    HEX "eax", eax, 8
.l3: NL
    TRY "cs lodsd at 0x1ffffe", .l4
    mov esi, 0x1FFFFE
.gp_lodsd:
    cs lodsd
    HEX "esi", esi, 8
.l4: NL
    TRY "rep cs movsd across the limit", .l6
    mov esi, 0x1FFFF8
    mov edi, dst
    mov ecx, 4
.gp_repmovs:
    rep cs movsd
.l6: HEX "ecx", ecx, 8
    HEX "esi", esi, 8
    HEX "edi", edi, 8
    NL
    TRY "repe cs cmpsb across the limit", .l7
    mov esi, 0x1FFFFE
    mov edi, zeros
    mov ecx, 4
.gp_repcmps:
    repe cs cmpsb
.l7: HEX "ecx", ecx, 8
    HEX "esi", esi, 8
    NL
    TRY "mov ebx,[cs:d32]", .l5
    mov ebx, [cs:val - B]
    HEX "ebx", ebx, 8
.l5: NL
    jmp 0x28:xonly - B

xonly:
    LINE "in CS 0x28 (base 0x1000, execute-only)"
    TRY "mov eax,[cs:d32]", .x1
.gp_read:
    mov eax, [cs:val - B]
    HEX "eax", eax, 8
.x1: NL
    TRY "cs xlatb", .x2
    mov ebx, xtab - B
    mov eax, 0
.gp_xlat:
    cs xlatb
    HEX "eax", eax, 8
.x2: NL
    TRY "mov eax,[ds:d32]", .x3
    mov eax, [val]
    HEX "eax", eax, 8
.x3: NL
    LINE "done"
    EXIT 0
