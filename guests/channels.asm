; channels: every other place a monitor address or selector could reach the guest, printed as
; the guest sees it: the EIP, CS, EFLAGS and error code pushed by faults raised by copied
; instructions (also right after a callout, at a block's end, after a chained RET), by the
; monitor's callouts and by INT n; return addresses pushed by near and far CALL; CR2-CR4;
; DR0-DR7; LAR/LSL/VERR/VERW of the monitor's own selectors (0x1B, 0x23 ... 0x43); the
; selectors through MOV and PUSH; SGDT/SIDT/SLDT/STR/SMSW; CPUID; MXCSR and FXSAVE's
; MXCSR_MASK; RDTSC moving forward; x87 #MF and CR0.TS/EM/MP faults; the same kinds of faults
; at CPL 3, through the guest's TSS.
%include "common.inc"

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 0x08 code
    dq 0x00CF92000000FFFF               ; 0x10 data
    dq 0x00CF92000000FFFF               ; 0x18 data
    dq 0x00CFFA000000FFFF               ; 0x20 code, DPL 3
    dq 0x00CF9A000000FFFF               ; 0x28 code
    dq 0x00CFF2000000FFFF               ; 0x30 data, DPL 3
tss_desc:
    dq 0x0000890000000067               ; 0x38 32-bit TSS (base filled in at start)
gdt_end:
gdtr:     dw gdt_end - gdt - 1
          dd gdt
idtr:     dw 256 * 8 - 1
          dd idt
resume:   dd 0
frame:    times 6 dd 0
farptr:   dd main.far_target
          dw 0x28
callptr:  dd near_fn
msr_list: dd 0x1B, 0x174, 0x175, 0x176, 0x277, 0x1D9, 0x1DB, 0x1DC, 0x1DD, 0x1DE
msr_list_end:
align 16
buf:      times 64 db 0

section .bss
alignb 16
xbuf:     resb 512
tss:      resb 104
          resb 4096
user_stack_top:
alignb 8
idt:      resq 256
          resb 4096
stack2_top:

section .text
set_gate:                               ; EAX vector, EBX handler
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov word [edi + 2], 0x08
    mov byte [edi + 4], 0
    mov byte [edi + 5], 0x8E
    shr ebx, 16
    mov [edi + 6], bx
    ret

; One stub per vector: the ones without an error code push a dummy 0xFFFFFFFF.
%assign v 0
%rep 49
stub %+ v:
%if v = 8 || (v >= 10 && v <= 14) || v = 17
%else
    push dword 0xFFFFFFFF
%endif
    push dword v
    jmp fault_common
%assign v v+1
%endrep

fault_common:                               ; [esp] vector, err, eip, cs, eflags
    push eax
    mov eax, [esp + 4]
    mov [frame], eax
    mov eax, [esp + 8]
    mov [frame + 4], eax
    mov eax, [esp + 12]
    mov [frame + 8], eax
    mov eax, [esp + 16]
    mov [frame + 12], eax
    mov eax, [esp + 20]
    mov [frame + 16], eax
    lea eax, [esp + 24]
    mov [frame + 20], eax
    DEC "vec", [frame]
    HEX "err", [frame + 4], 8
    HEX "eip", [frame + 8], 8
    HEX "cs", [frame + 12], 4
    HEX "eflags", [frame + 16], 8
    HEX "esp", [frame + 20], 8
    test dword [frame + 12], 3
    jz .same_level
    mov eax, [esp + 24]                 ; from CPL 3: the pushed user ESP and SS
    mov [frame], eax
    mov eax, [esp + 28]
    mov [frame + 4], eax
    HEX "user esp", [frame], 8
    HEX "user ss", [frame + 4], 4
.same_level:
    NL
    mov eax, [resume]
    test eax, eax
    jz .back
    mov [esp + 12], eax
.back:
    pop eax
    add esp, 8
    iretd

%macro TRY 2                            ; TRY "label", resume_label
    PUTS %1
    mov dword [resume], %2
%endmacro

near_fn:
    mov eax, [esp]
    ret

probe:                                  ; LAR/LSL/VERR/VERW of selector ESI, one line
    pushad
    PUTS "sel"
    HEX "", esi, 4
    mov eax, 0xDEADBEEF
    lar eax, esi
    pushfd
    pop edx
    and edx, 0x40
    HEX "lar", eax, 8
    HEX "zf", edx, 2
    mov eax, 0xDEADBEEF
    lsl eax, esi
    pushfd
    pop edx
    and edx, 0x40
    HEX "lsl", eax, 8
    HEX "zf", edx, 2
    verr si
    pushfd
    pop edx
    and edx, 0x40
    HEX "verr", edx, 2
    verw si
    pushfd
    pop edx
    and edx, 0x40
    HEX "verw", edx, 2
    NL
    popad
    ret

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
    mov esp, stack2_top
%assign v 0
%rep 49
    mov eax, v
    mov ebx, stub %+ v
    call set_gate
%assign v v+1
%endrep
    lidt [idtr]
    LINE "channels: what faults, calls and probes show"

    ; Faults from copied instructions.
    TRY "div at block end:", .r1
    xor ecx, ecx
    mov eax, 1
    xor edx, edx
    div ecx
    jmp .r1
.r1:
    TRY "div after inline pushfd:", .r2
    pushfd
    div ecx
    add esp, 4
.r2:
    add esp, 4
    TRY "misaligned fxsave:", .r3
    fxsave [buf + 8]
.r3:
    TRY "movaps without osfxsr:", .r4
    movaps xmm0, [buf]
.r4:
    TRY "div first after ret:", .r5
    call near_fn
    div ecx
.r5:
    TRY "fnstenv then div:", .r6
    fnstenv [buf]
    div ecx
.r6:
    ; Faults and traps raised by callouts.
    TRY "mov ds bad selector:", .r7
    mov ax, 0x3B
    mov ds, ax
.r7:
    mov ax, 0x10
    mov ds, ax
    TRY "ud2:", .r8
    ud2
.r8:
    TRY "int3:", 0
    int3
    TRY "int 0x30:", 0
    int 0x30
    TRY "into:", 0
    mov al, 0x7F
    add al, 1
    into
    TRY "bound:", .r9
    mov eax, 100
    mov dword [buf], 0
    mov dword [buf + 4], 10
    bound eax, [buf]
.r9:
    TRY "iret to a bad cs:", .r10
    pushfd
    push dword 0x48
    push dword .r10
    iretd
.r10:
    mov dword [resume], 0

    ; Return addresses the guest reads back.
    call near_fn
    HEX "near call pushed", eax, 8
    call [callptr]
    HEX "indirect call pushed", eax, 8
    call far [farptr]
    jmp .after_far
.far_target:
    mov eax, [esp]
    mov ebx, [esp + 4]
    retf
.after_far:
    HEX "far call pushed", eax, 8
    HEX "cs", ebx, 8
    NL

    ; Control and debug registers.
    mov eax, cr0
    HEX "cr0", eax, 8
    mov eax, cr2
    HEX "cr2", eax, 8
    mov eax, cr3
    HEX "cr3", eax, 8
    mov eax, cr4
    HEX "cr4", eax, 8
    smsw eax
    HEX "smsw", eax, 8
    NL
    mov eax, dr0
    HEX "dr0", eax, 8
    mov eax, dr1
    HEX "dr1", eax, 8
    mov eax, dr2
    HEX "dr2", eax, 8
    mov eax, dr3
    HEX "dr3", eax, 8
    mov eax, dr6
    HEX "dr6", eax, 8
    mov eax, dr7
    HEX "dr7", eax, 8
    NL

    ; Descriptor probes of the monitor's selectors and of the guest's (GDT, RPL 0 and 3).
    mov esi, 0x08
.probe:
    call probe
    or esi, 3
    call probe
    and esi, ~3
    add esi, 8
    cmp esi, 0x50
    jb .probe

    ; Selectors and system registers as MOV, PUSH and the stores show them.
    mov eax, cs
    HEX "cs", eax, 8
    mov eax, ss
    HEX "ss", eax, 8
    mov eax, ds
    HEX "ds", eax, 8
    mov eax, es
    HEX "es", eax, 8
    mov eax, fs
    HEX "fs", eax, 8
    mov eax, gs
    HEX "gs", eax, 8
    push cs
    pop eax
    HEX "push cs", eax, 8
    push ss
    pop eax
    HEX "push ss", eax, 8
    push ds
    pop eax
    HEX "push ds", eax, 8
    NL
    sgdt [buf]
    HEX "sgdt", [buf + 2], 8
    movzx eax, word [buf]
    HEX "limit", eax, 4
    sidt [buf]
    HEX "sidt", [buf + 2], 8
    movzx eax, word [buf]
    HEX "limit", eax, 4
    mov eax, 0xDEADBEEF
    sldt eax
    HEX "sldt", eax, 8
    mov eax, 0xDEADBEEF
    str eax
    HEX "str", eax, 8
    NL

    ; MSRs, the last-branch/last-exception ones among them (DEBUGCTL set first: LBR on).
    mov ecx, 0x1D9
    mov eax, 1
    xor edx, edx
    wrmsr
    call near_fn
    mov esi, msr_list
.msr:
    mov ecx, [esi]
    PUTS "rdmsr"
    HEX "", ecx, 8
    mov dword [resume], .msr_next
    rdmsr
    HEX "edx", edx, 8
    HEX "eax", eax, 8
    NL
.msr_next:
    add esi, 4
    cmp esi, msr_list_end
    jb .msr

    ; CPUID as the guest's CPU model.
    mov esi, 0
.leaf:
    mov eax, esi
    xor ecx, ecx
    cpuid
    PUTS "cpuid"
    HEX "", esi, 8
    HEX "a", eax, 8
    HEX "b", ebx, 8
    HEX "c", ecx, 8
    HEX "d", edx, 8
    NL
    inc esi
    cmp esi, 2
    jb .leaf
    cmp esi, 0x80000005
    je .leaves_done
    cmp esi, 0x80000000
    jae .leaf
    mov esi, 0x80000000
    jmp .leaf
.leaves_done:

    ; SSE state: MXCSR through STMXCSR and FXSAVE (with OSFXSR).
    mov eax, cr4
    or eax, 0x600
    mov cr4, eax
    stmxcsr [buf]
    HEX "stmxcsr", [buf], 8
    fxsave [xbuf]
    HEX "fxsave mxcsr", [xbuf + 24], 8
    HEX "mxcsr_mask", [xbuf + 28], 8
    NL

    ; x87 error reporting and CR0's FPU bits: with CR0.NE an unmasked exception is #MF at the
    ; next waiting instruction; TS makes x87/SSE #NM (WAIT too with MP), EM makes x87 #NM and
    ; SSE #UD. Faults of copied instructions the real CPU raises once it has the guest's bits.
    fninit
    mov word [buf], 0x037B              ; ZE unmasked
    fldcw [buf]
    mov eax, cr0
    or eax, 0x20
    mov cr0, eax
    TRY "fdiv by zero, fwait:", .m1
    fldz
    fld1
    fdiv st0, st1
    fwait
.m1:
    fnstsw ax
    movzx eax, ax
    HEX "fsw", eax, 4
    NL
    fninit
    TRY "fld with ts:", .m2
    mov eax, cr0
    or eax, 8
    mov cr0, eax
    fld1
.m2:
    TRY "fwait with ts:", .m3
    fwait
.m3:
    NL
    TRY "fwait with ts mp:", .m4
    mov eax, cr0
    or eax, 2
    mov cr0, eax
    fwait
.m4:
    TRY "fxsave with ts mp:", .m5
    fxsave [xbuf]
.m5:
    clts
    TRY "fwait with mp:", .m6
    fwait
.m6:
    NL
    TRY "fld with em:", .m7
    mov eax, cr0
    or eax, 4
    mov cr0, eax
    fld1
.m7:
    TRY "movaps with em:", .m8
    movaps xmm0, [buf]
.m8:
    mov eax, cr0
    and eax, ~6
    mov cr0, eax
    HEX "cr0", eax, 8
    NL

    ; RDTSC moves forward (its values themselves differ between any two machines).
    rdtsc
    mov esi, eax
    mov edi, edx
    rdtsc
    sub eax, esi
    sbb edx, edi
    mov ecx, 0
    jb .tsc_back
    or eax, edx
    setnz cl
.tsc_back:
    HEX "rdtsc forward", ecx, 2
    NL
    ; At CPL 3 (IOPL 3 for the output) through the guest's TSS: faults push the user SS:ESP,
    ; the CPL 3 CS 0x23 and SS/DS 0x33 are the monitor's own ES and DS shadow selectors.
    mov eax, tss
    mov [tss_desc + 2], ax
    shr eax, 16
    mov [tss_desc + 4], al
    mov [tss_desc + 7], ah
    mov dword [tss + 4], stack2_top
    mov dword [tss + 8], 0x10
    mov ax, 0x38
    ltr ax
    mov byte [idt + 3 * 8 + 5], 0xEE    ; INT3 may be used from CPL 3, INT 0x30 may not
    mov eax, cr4
    or eax, 4                           ; TSD: RDTSC is for CPL 0 only
    mov cr4, eax
    push dword 0x33
    push dword user_stack_top
    push dword 0x3002
    push dword 0x23
    push dword .user
    iretd
.user:
    mov ax, 0x33
    mov ds, ax
    mov es, ax
    TRY "cpl3 rdtsc with tsd:", .u1
    rdtsc
.u1:
    TRY "cpl3 ud2:", .u2
    ud2
.u2:
    TRY "cpl3 div:", .u3
    xor ecx, ecx
    div ecx
.u3:
    TRY "cpl3 mov cr0:", .u4
    mov eax, cr0
.u4:
    TRY "cpl3 int3:", 0
    int3
    TRY "cpl3 int 0x30 (gate dpl 0):", .u5
    int 0x30
.u5:
    mov eax, cs
    HEX "cs", eax, 8
    mov eax, ss
    HEX "ss", eax, 8
    mov eax, 0xDEADBEEF
    str eax
    HEX "str", eax, 8
    fninit
    fld dword [buf]
    fnstenv [buf + 32]
    HEX "fip", [buf + 44], 8
    HEX "fcs", [buf + 48], 8
    HEX "fdp", [buf + 52], 8
    HEX "fds", [buf + 56], 8
    NL
    LINE "done"
    EXIT 0
