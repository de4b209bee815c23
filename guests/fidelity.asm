; fidelity: every sensitive instruction of DESIGN.md's list, run once at CPL 0 and once at
; CPL 3, each printing one tagged line ("cpl<N> <INSN> ...") with what the guest observed:
; the value it got, or the exception it took (vector and error code). tools/fidelity.py
; compares each line with QEMU's to fill the fidelity matrix.
%include "common.inc"

section .data
align 8
gdt:
    dq 0                                ; 0x00 null
    dq 0x00CF9A000000FFFF               ; 0x08 kernel code
    dq 0x00CF92000000FFFF               ; 0x10 kernel data
    dq 0x00CFFA000000FFFF               ; 0x18 user code (DPL 3)
    dq 0x00CFF2000000FFFF               ; 0x20 user data (DPL 3)
tss_desc:
    dq 0                                ; 0x28 TSS
tss2_desc:
    dq 0                                ; 0x30 a second TSS, for LTR at CPL 0
    dq 0x0000820000000000 + 0x0F        ; 0x38 LDT (base 0, limit 0xF)
    dq 0x00CFFA000000FFFF               ; 0x40 user code for far transfers at CPL 3
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd idt
tag:    dd 0                            ; the instruction being tried
cpl:    dd 0
resume: dd 0                            ; where a fault handler continues
bounds: dd 10, 20
farptr: dd 0, 0
scratch: times 16 db 0

section .bss
align 16
idt:    resq 256
tss:    resb 104
iomap:  resb 8192 + 1
tss2:   resb 104
        resb 4096
kstack_top:
        resb 4096
ustack_top:

section .text
%include "fidelity_gates.inc"

; prefix: "cpl<N> <tag>"
prefix:
    push eax
    PUTS "cpl"
    mov eax, [cpl]
    add al, '0'
    call putc
    mov al, ' '
    call putc
    push esi
    mov esi, [tag]
    call puts
    pop esi
    pop eax
    ret

; TRY "NAME" ... ENDTRY : one instruction's test; a fault handler resumes at ENDTRY.
%macro TRY 1
%push try
[section .rodata]
%%s: db %1, 0
__SECT__
    mov dword [tag], %%s
    mov dword [resume], %$end
%endmacro
%macro ENDTRY 0
%$end:
%pop
%endmacro

%macro FAULT_HANDLER 2                  ; vector, has error code
fh%1:
%if %2
    pop dword [scratch]                 ; error code
%else
    mov dword [scratch], 0xFFFF
%endif
    call prefix
    PUTS " fault"
    HEX "vec", %1, 2
    HEX "err", [scratch], 4
    NL
    push eax
    mov eax, [resume]
    mov [esp + 4], eax                  ; return to the TRY's resume point
    pop eax
    iretd
%endmacro

FAULT_HANDLER 0, 0
FAULT_HANDLER 5, 0
FAULT_HANDLER 6, 0
FAULT_HANDLER 10, 1
FAULT_HANDLER 11, 1
FAULT_HANDLER 12, 1
FAULT_HANDLER 13, 1

h_soft:                                 ; INT 0x40 (DPL 3 gate) and INTO/INT3 land here
    call prefix
    PUTS " handler"
    mov eax, [esp + 4]
    HEX "pushed_cs", eax, 4
    mov eax, [esp + 8]
    and eax, 0x3202                     ; IF, IOPL and the fixed bit: what matters here
    HEX "pushed_if_iopl", eax, 8
    NL
    iretd

far_target:
    call prefix
    mov eax, cs
    PUTS " reached"
    HEX "cs", eax, 4
    NL
    retf

main:
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    lgdt [gdtr]
    jmp 0x08:.k
.k:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov fs, ax
    mov gs, ax
    mov ss, ax
    TSS_SETUP kstack_top
%assign v 0
%rep 32
    mov eax, v
    mov ebx, fh13
    mov dl, 0x8E
    call set_gate
%assign v v+1
%endrep
%macro HGATE 2
    mov eax, %1
    mov ebx, %2
    mov dl, 0x8E
    call set_gate
%endmacro
    HGATE 0, fh0
    HGATE 5, fh5
    HGATE 6, fh6
    HGATE 10, fh10
    HGATE 11, fh11
    HGATE 12, fh12
    mov eax, 0x40
    mov ebx, h_soft
    mov dl, 0xEE                        ; DPL 3 interrupt gate
    call set_gate
    mov eax, 4
    mov ebx, h_soft
    mov dl, 0xEF                        ; INTO: DPL 3 trap gate
    call set_gate
    mov eax, 0x42
    mov ebx, finish
    mov dl, 0xEE
    call set_gate
    mov eax, 0x41
    mov ebx, h_soft
    mov dl, 0x8E                        ; DPL 0: INT 0x41 from CPL 3 faults
    call set_gate
    lidt [idtr]

    mov dword [cpl], 0
    call tour
    mov byte [tss_desc + 5], 0x89       ; the LTR test moved TR to 0x30: back to 0x28
    mov ax, 0x28
    ltr ax
    ; down to CPL 3 and run the same tour there
    mov dword [cpl], 3
    push dword 0x23
    push dword ustack_top
    pushfd
    push dword 0x1B
    push dword .user
    iretd
.user:
    mov ax, 0x23                        ; IRET to CPL 3 nulled DS and ES (DPL 0 data)
    mov ds, ax
    mov es, ax
    call tour
    int 0x42                            ; back to CPL 0 to leave through port 0xf4

finish:
    PUTS "fidelity done"
    NL
    EXIT 0

; ---------------------------------------------------------------------------------------------
tour:
    TRY "CLI"
    cli
    pushfd
    pop eax
    call prefix
    HEX "if", eax, 8
    NL
    ENDTRY
    TRY "STI"
    sti
    pushfd
    pop eax
    call prefix
    and eax, 0x200
    HEX "if", eax, 8
    NL
    ENDTRY
    TRY "PUSHF"
    pushfd
    pop eax
    call prefix
    HEX "eflags", eax, 8
    NL
    ENDTRY
    TRY "POPF"
    push dword 0x3002                   ; try IF=0, IOPL=3
    popfd
    pushfd
    pop eax
    call prefix
    HEX "eflags", eax, 8
    NL
    push dword 0x202                    ; put things back where allowed
    popfd
    ENDTRY
    TRY "IN"
    mov dx, 0x3FF
    mov al, 0x5A
    out dx, al
    in al, 0x21
    call prefix
    HEX "al", eax, 2
    NL
    ENDTRY
    TRY "OUT"
    mov al, 0xFF
    out 0x21, al
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "INS"
    mov edi, scratch
    mov dx, 0x21
    insb
    call prefix
    mov al, [scratch]
    HEX "byte", eax, 2
    NL
    ENDTRY
    TRY "OUTS"
    mov esi, scratch
    mov dx, 0x80
    outsb
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "LGDT"
    lgdt [gdtr]
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "LIDT"
    lidt [idtr]
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "LLDT"
    mov ax, 0x38
    lldt ax
    sldt ax
    call prefix
    HEX "ldtr", eax, 4
    NL
    ENDTRY
    TRY "LTR"
    mov ax, 0x30
    ltr ax
    str ax
    call prefix
    HEX "tr", eax, 4
    NL
    ENDTRY
    TRY "LMSW"
    mov ax, 0x0011
    lmsw ax
    smsw eax
    call prefix
    HEX "cr0", eax, 8
    NL
    ENDTRY
    TRY "MOV CRn"
    mov eax, cr0
    mov cr0, eax
    call prefix
    HEX "cr0", eax, 8
    NL
    ENDTRY
    TRY "MOV DRn"
    mov eax, 0x400
    mov dr7, eax
    mov eax, dr7
    call prefix
    HEX "dr7", eax, 8
    NL
    ENDTRY
    TRY "INVLPG"
    invlpg [scratch]
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "INVD"
    invd
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "WBINVD"
    wbinvd
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "RDMSR"
    mov ecx, 0x174
    rdmsr
    call prefix
    HEX "eax", eax, 8
    NL
    ENDTRY
    TRY "WRMSR"
    mov ecx, 0x174
    xor eax, eax
    xor edx, edx
    wrmsr
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "CLTS"
    clts
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "SGDT"
    sgdt [scratch]
    call prefix
    mov eax, [scratch + 2]
    HEX "base", eax, 8
    movzx eax, word [scratch]
    HEX "limit", eax, 4
    NL
    ENDTRY
    TRY "SIDT"
    sidt [scratch]
    call prefix
    mov eax, [scratch + 2]
    HEX "base", eax, 8
    movzx eax, word [scratch]
    HEX "limit", eax, 4
    NL
    ENDTRY
    TRY "SLDT"
    mov eax, 0xFFFFFFFF
    sldt eax
    call prefix
    HEX "ldtr", eax, 8
    NL
    ENDTRY
    TRY "STR"
    mov eax, 0xFFFFFFFF
    str eax
    call prefix
    HEX "tr", eax, 8
    NL
    ENDTRY
    TRY "SMSW"
    mov eax, 0xFFFFFFFF
    smsw eax
    call prefix
    HEX "msw", eax, 8
    NL
    ENDTRY
    TRY "LAR"
    mov eax, 0xDEADBEEF
    mov ebx, 0x1B
    lar eax, ebx
    call prefix
    HEX "eax", eax, 8
    NL
    ENDTRY
    TRY "LSL"
    mov eax, 0xDEADBEEF
    mov ebx, 0x08
    lsl eax, ebx
    pushfd
    pop ebx
    call prefix
    HEX "eax", eax, 8
    and ebx, 0x40
    HEX "zf", ebx, 2
    NL
    ENDTRY
    TRY "VERR"
    mov ax, 0x10
    verr ax
    pushfd
    pop ebx
    call prefix
    and ebx, 0x40
    HEX "zf", ebx, 2
    NL
    ENDTRY
    TRY "VERW"
    mov ax, 0x23
    verw ax
    pushfd
    pop ebx
    call prefix
    and ebx, 0x40
    HEX "zf", ebx, 2
    NL
    ENDTRY
    TRY "MOV from Sreg"
    mov eax, cs
    mov ebx, ss
    call prefix
    HEX "cs", eax, 8
    HEX "ss", ebx, 8
    NL
    ENDTRY
    TRY "PUSH Sreg"
    push cs
    pop eax
    push ss
    pop ebx
    call prefix
    HEX "cs", eax, 8
    HEX "ss", ebx, 8
    NL
    ENDTRY
    TRY "POP Sreg"
    mov eax, ds
    push eax
    pop es
    mov eax, es
    call prefix
    HEX "es", eax, 4
    NL
    ENDTRY
    TRY "MOV to Sreg"
    mov eax, ss
    mov ds, ax
    mov ebx, ds
    call prefix
    HEX "ds", ebx, 4
    NL
    ENDTRY
    TRY "far JMP"
    mov eax, cs
    mov [farptr + 4], eax
    mov dword [farptr], .fj
    jmp far [farptr]
.fj:
    mov eax, cs
    call prefix
    HEX "cs", eax, 4
    NL
    ENDTRY
    TRY "far CALL"
    mov eax, cs
    mov [farptr + 4], eax
    mov dword [farptr], far_target
    call far [farptr]
    ENDTRY
    TRY "far RET"
    push cs
    push dword .fr
    retf
.fr:
    mov eax, cs
    call prefix
    HEX "cs", eax, 4
    NL
    ENDTRY
    TRY "INT n"
    int 0x40
    ENDTRY
    TRY "INT n (gate DPL 0)"
    int 0x41
    ENDTRY
    TRY "IRET"
    pushfd
    push cs
    push dword .ir
    iretd
.ir:
    pushfd
    pop eax
    call prefix
    and eax, 0x3200
    HEX "if_iopl", eax, 8
    NL
    ENDTRY
    TRY "CPUID"
    xor eax, eax
    cpuid
    call prefix
    HEX "ebx", ebx, 8
    NL
    ENDTRY
    TRY "RDTSC"
nondet_tsc_start:           ; traces compare this range by address only (its values are the host's)
    rdtsc
    mov ebx, eax
    rdtsc
    sub eax, ebx
    setnz al
    movzx eax, al
nondet_tsc_end:
    call prefix
    HEX "advances", eax, 1
    NL
    ENDTRY
    TRY "RDPMC"
    xor ecx, ecx
    rdpmc
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "SYSENTER"
    sysenter
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "SYSEXIT"
    sysexit
    call prefix
    PUTS " done"
    NL
    ENDTRY
    TRY "INTO"
    mov al, 0x7F
    add al, 1                           ; OF=1
    into
    ENDTRY
    TRY "BOUND"
    mov eax, 30
    bound eax, [bounds]
    call prefix
    PUTS " in range"
    NL
    ENDTRY
    TRY "HLT"
    cmp dword [cpl], 0
    je .skip_hlt                        ; at CPL 0 HLT would wait forever: no timer yet
    hlt
.skip_hlt:
    call prefix
    PUTS " not halted"
    NL
    ENDTRY
    ret

; ---------------------------------------------------------------------------------------------
; Paging mode ("fidelity.elf paging" on the command line): the same matrix with CR0.PG set.
; The ELF entry is here, after the whole paging-off image (guests/fidelity.ld): it reads the
; command line and, for "paging", identity-maps 0-4 MiB with 4 KiB pages, writable, user
; except where CPL 3 code never goes: the kernel stack, the IDT, the TSSs and their I/O bitmap,
; the inner-level stack (all of .bss below the user stack's top page) and the page tables. The
; processor reads and writes those for a CPL 3 instruction as supervisor accesses (SDM 4.6:
; descriptor tables, the TSS, the stack of a privilege change), so every result but CR0's PG
; bit equals the paging-off one. Then it loads CR3, sets CR0.PG, puts every register and
; EFLAGS back and goes on at _start as if the loader had jumped there (ECX included). The
; paging-off run executes this and then exactly its old instructions at their old addresses.
section .ptext progbits alloc exec nowrite align=16
global paged_entry
paged_entry:
    mov [pg_saved_esp], esp             ; the loader's stack is not ours to write
    mov esp, pg_stack_top
    pushfd
    pushad
    cld
    test dword [ebx], 4                 ; MBI flags bit 2: a command line is present
    jz .off
    mov esi, [ebx + 16]                 ; "KERNEL ARGS": skip the file name
.name:
    lodsb
    test al, al
    jz .off
    cmp al, ' '
    jne .name
    mov edi, pg_word
    mov ecx, pg_word_len
    repe cmpsb
    jne .off
    xor eax, eax
    mov edi, pg_pd                      ; no PDE but the first
    mov ecx, 1024
    rep stosd
    mov edi, pg_pt                      ; PTE i maps page i to itself
    mov eax, 0x007                      ; P, RW, US
    mov ecx, 1024
.pte:
    stosd
    add eax, 0x1000
    loop .pte
    mov eax, stack_top - 16384 + 0xFFF  ; the first page after the CPL 3 data...
    shr eax, 12
    mov ecx, ustack_top - 1             ; ...up to the user stack's top page: supervisor
    shr ecx, 12
.sup:
    and dword [pg_pt + eax * 4], ~0x004
    inc eax
    cmp eax, ecx
    jb .sup
    mov eax, pg_pd
    shr eax, 12
    mov dword [pg_pt + eax * 4], pg_pd + 0x003    ; the tables: supervisor, P and RW
    mov dword [pg_pt + eax * 4 + 4], pg_pt + 0x003    ; pg_pt is the next page
    mov dword [pg_pd], pg_pt + 0x007    ; PDE 0: 0-4 MiB, user allowed by the PTEs
    mov eax, pg_pd
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000                  ; CR0.PG
    mov cr0, eax
.off:
    popad
    popfd
    mov esp, [pg_saved_esp]
    mov ecx, _start                     ; QEMU's loader (and bt's) jumps through ECX
    jmp ecx

pg_word: db "paging", 0                 ; the word and its end: "paging" alone
pg_word_len equ $ - pg_word

section .pbss nobits alloc write align=4096
pg_pd:          resb 4096
pg_pt:          resb 4096
                resb 256
pg_stack_top:
pg_saved_esp:   resd 1
