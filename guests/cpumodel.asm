; cpumodel: what the CPU model shows a 32-bit kernel, run under each `--cpu` / `-cpu` model:
; every CPUID leaf it reports (basic, hypervisor, extended, and one past each maximum), which
; CR4 bits 0-10 a MOV CR4 takes and what reads back, RDMSR of the MSRs a kernel touches
; (value or #GP), WRMSR of patterns and what reads back, and which instructions of the
; optional feature sets run or raise #UD. RDTSC and the TSC MSR are printed only as run/#GP:
; their values are the host's.
%include "common.inc"

section .data
align 8
gdt:
    dq 0
    dq 0x00CF9A000000FFFF               ; 0x08 code
    dq 0x00CF92000000FFFF               ; 0x10 data
gdt_end:
gdtr:   dw gdt_end - gdt - 1
        dd gdt
idtr:   dw 256 * 8 - 1
        dd idt
resume: dd 0                            ; where the fault handler goes on
fault:  dd 0                            ; the vector taken, or -1
cr4_orig: dd 0
; MSRs read: (index); 0x10 (the TSC) is shown as run/#GP only.
msr_read_list:
    dd 0x00000000, 0x00000001, 0x00000006, 0x00000010, 0x00000017, 0x0000001B, 0x0000002A
    dd 0x00000033, 0x0000003A, 0x0000003B, 0x00000048, 0x00000049, 0x00000079, 0x0000008B
    dd 0x000000C1, 0x000000CE, 0x000000E7, 0x000000E8, 0x000000FE, 0x0000010A, 0x0000011E
    dd 0x00000140, 0x00000174, 0x00000175, 0x00000176, 0x00000179, 0x0000017A, 0x0000017B
    dd 0x00000186, 0x00000198, 0x00000199, 0x0000019A, 0x0000019B, 0x0000019C, 0x000001A0
    dd 0x000001A2, 0x000001D9, 0x000001DB, 0x000001DC, 0x000001DD, 0x000001DE
    dd 0x00000200, 0x00000201, 0x00000202, 0x00000203, 0x00000204, 0x00000205, 0x00000206
    dd 0x00000207, 0x00000208, 0x00000209, 0x0000020A, 0x0000020B, 0x0000020C, 0x0000020D
    dd 0x0000020E, 0x0000020F, 0x00000210, 0x00000211, 0x00000250, 0x00000258, 0x00000259
    dd 0x00000268, 0x00000269, 0x0000026A, 0x0000026B, 0x0000026C, 0x0000026D, 0x0000026E
    dd 0x0000026F, 0x00000277, 0x000002FF, 0x00000345, 0x00000400, 0x00000401, 0x00000402
    dd 0x00000403, 0x00000404, 0x0000040F, 0x00000410, 0x00000413, 0x00000414, 0x00000480
    dd 0x000006E0, 0x00000802, 0x00000803, 0x00000830, 0x00000C8F, 0x00000DA0
    dd 0x40000000, 0x4B564D00, 0x4B564D01, 0xC0000080, 0xC0000081, 0xC0000082, 0xC0000083
    dd 0xC0000084, 0xC0000100, 0xC0000101, 0xC0000102, 0xC0000103, 0xC0010000, 0xC0010004
    dd 0xC0010015, 0xC0010114, 0xC0011022, 0x12345678, 0xFFFFFFFF
msr_read_end:
; MSRs written: (index, high, low), read back after each write and then restored.
msr_write_list:
    dd 0x00000017, 0x00000000, 0x00000001
    dd 0x0000003A, 0x00000000, 0x00000005
    dd 0x0000003A, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x0000008B, 0x12345678, 0x00000000
    dd 0x00000174, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x00000175, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x00000176, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x0000017A, 0x00000000, 0x00000000
    dd 0x0000017A, 0x00000000, 0x00000001
    dd 0x0000017B, 0x00000000, 0x00000001
    dd 0x000001A0, 0x00000000, 0x00000000
    dd 0x000001A0, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x000001D9, 0x00000000, 0x00000001
    dd 0x00000200, 0x00000000, 0x00000006
    dd 0x00000200, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x00000201, 0x0000000F, 0xFFC00800
    dd 0x00000201, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x0000020F, 0x12345678, 0x9ABCDEF0
    dd 0x00000210, 0x00000000, 0x00000006
    dd 0x00000250, 0x06060606, 0x06060606
    dd 0x00000250, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x00000258, 0x12345678, 0x9ABCDEF0
    dd 0x0000026F, 0x05050505, 0x04040404
    dd 0x00000277, 0x00070106, 0x00070406
    dd 0x00000277, 0x00000000, 0x00000002
    dd 0x00000277, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x000002FF, 0x00000000, 0x00000C06
    dd 0x000002FF, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x00000400, 0x00000000, 0x00000000
    dd 0x00000400, 0x00000000, 0x00000001
    dd 0x00000400, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0x00000401, 0x00000000, 0x00000000
    dd 0x00000401, 0x00000000, 0x00000001
    dd 0x000006E0, 0x00000000, 0x00000000
    dd 0xC0000080, 0x00000000, 0x00000800
    dd 0xC0000080, 0x00000000, 0x00000001
    dd 0xC0000080, 0x00000000, 0x00000100
    dd 0xC0000080, 0xFFFFFFFF, 0xFFFFFFFF
    dd 0xC0000081, 0x12345678, 0x9ABCDEF0
    dd 0xC0000103, 0x12345678, 0x9ABCDEF0
    dd 0x12345678, 0xFFFFFFFF, 0xFFFFFFFF
msr_write_end:
align 16
buf:    times 512 db 0
mxcsr_val: dd 0x1F80

section .bss
alignb 8
idt:    resq 256

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

; One stub per exception vector: the ones without an error code push a dummy.
%assign v 0
%rep 20
stub %+ v:
%if v = 8 || (v >= 10 && v <= 14) || v = 17
%else
    push dword 0
%endif
    push dword v
    jmp fault_common
%assign v v+1
%endrep

fault_common:                           ; [esp] vector, error code, eip, cs, eflags
    push eax
    mov eax, [esp + 4]
    mov [fault], eax
    mov eax, [resume]
    mov [esp + 12], eax
    pop eax
    add esp, 8
    iretd

; HX value: print " 0x<8 digits>" (value must not be ECX/ESP-relative).
%macro HX 1
    PUTS " "
    push eax
    push ecx
    mov eax, %1
    mov ecx, 8
    call puthex
    pop ecx
    pop eax
%endmacro

; TRY resume_label: a fault in what follows goes on at resume_label with [fault] = vector.
%macro TRY 1
    mov dword [fault], -1
    mov dword [resume], %1
%endmacro

; SHOWFAULT: print " ok" or " #<vector>".
show_fault:
    pushad
    mov eax, [fault]
    cmp eax, -1
    jne .faulted
    PUTS " ok"
    popad
    ret
.faulted:
    PUTS " #"
    call putdec
    popad
    ret

; cpuid_line: CPUID leaf EAX, sub-leaf ECX, printed as one line.
cpuid_line:
    pushad
    mov esi, eax
    mov edi, ecx
    cpuid
    PUTS "cpuid"
    HX esi
    PUTS "."
    push eax
    push ecx
    mov eax, edi
    mov ecx, 2
    call puthex
    pop ecx
    pop eax
    HEX "a", eax, 8
    HEX "b", ebx, 8
    HEX "c", ecx, 8
    HEX "d", edx, 8
    NL
    popad
    ret

; cpuid_range: leaves EAX..EBX (inclusive), sub-leaves 0..count-1 where the leaf has them.
cpuid_range:
    pushad
.leaf:
    cmp eax, ebx
    ja .done
    mov edx, 1                          ; sub-leaves to show
    cmp eax, 4
    jne .not4
    mov edx, 5
.not4:
    cmp eax, 7
    jne .not7
    mov edx, 2
.not7:
    cmp eax, 0xB
    jne .notb
    mov edx, 3
.notb:
    cmp eax, 0xD
    jne .notd
    mov edx, 3
.notd:
    xor ecx, ecx
.sub:
    call cpuid_line
    inc ecx
    cmp ecx, edx
    jb .sub
    inc eax
    jmp .leaf
.done:
    popad
    ret

main:
    lgdt [gdtr]
    jmp 0x08:.reload
.reload:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
%assign v 0
%rep 20
    mov eax, v
    mov ebx, stub %+ v
    call set_gate
%assign v v+1
%endrep
    lidt [idtr]
    mov eax, cr4
    mov [cr4_orig], eax

    LINE "== cpuid"
    xor eax, eax
    cpuid
    mov ebx, eax
    inc ebx                             ; one past the maximum
    xor eax, eax
    call cpuid_range
    mov eax, 0x20
    mov ebx, eax
    call cpuid_range
    mov eax, 0x40000000
    mov ebx, 0x40000001
    call cpuid_range
    mov eax, 0x40000010
    mov ebx, eax
    call cpuid_range
    mov eax, 0x80000000
    cpuid
    mov ebx, eax
    inc ebx
    mov eax, 0x80000000
    call cpuid_range
    mov eax, 0x8000001F
    mov ebx, eax
    call cpuid_range
    mov eax, 0xC0000000
    mov ebx, 0xC0000001
    call cpuid_range

    LINE "== cr4"
    xor esi, esi
.cr4_bit:
    PUTS "cr4 bit "
    push eax
    mov eax, esi
    call putdec
    pop eax
    TRY .cr4_after
    mov eax, 1
    mov ecx, esi
    shl eax, cl
    or eax, [cr4_orig]
    mov cr4, eax
    mov ebx, cr4
.cr4_after:
    call show_fault
    cmp dword [fault], -1
    jne .cr4_next
    HEX "reads", ebx, 8
.cr4_next:
    NL
    TRY .cr4_restored
    mov eax, [cr4_orig]
    mov cr4, eax
.cr4_restored:
    inc esi
    cmp esi, 11                         ; bits 11 up are reserved on these models: QEMU 7.2
    jb .cr4_bit                         ; hangs at such a MOV (bt: #GP(0), as the SDM says)

    LINE "== rdmsr"
    mov esi, msr_read_list
.rd_next:
    cmp esi, msr_read_end
    jae rd_done
    mov ecx, [esi]
    PUTS "rdmsr"
    HX ecx
    TRY rd_after
    xor eax, eax
    xor edx, edx
nondet_msr_start:                       ; traces compare it by address only: the TSC (0x10) is
    rdmsr                               ; the host's under QEMU, and is not kept
    cmp ecx, 0x10
    jne nondet_msr_end
    xor eax, eax
    xor edx, edx
nondet_msr_end:
rd_after:
    call show_fault
    cmp dword [fault], -1
    jne rd_line
    cmp dword [esi], 0x10
    je rd_line
    HX edx
    PUTS ":"
    push ecx
    mov ecx, 8
    call puthex
    pop ecx
rd_line:
    NL
    add esi, 4
    jmp main.rd_next
rd_done:

    LINE "== wrmsr"
    mov esi, msr_write_list
.wr_next:
    cmp esi, msr_write_end
    jae .wr_done
    mov ecx, [esi]
    PUTS "wrmsr"
    HX ecx
    HX [esi + 4]
    PUTS ":"
    push ecx
    mov eax, [esi + 8]
    mov ecx, 8
    call puthex
    pop ecx
    TRY .wr_old                         ; the value before, to put back
    xor eax, eax
    xor edx, edx
    rdmsr
.wr_old:
    mov edi, eax
    mov ebp, edx
    TRY .wr_after
    mov edx, [esi + 4]
    mov eax, [esi + 8]
    wrmsr
.wr_after:
    call show_fault
    TRY .wr_read
    xor eax, eax
    xor edx, edx
    rdmsr
.wr_read:
    PUTS " reads"
    call show_fault
    cmp dword [fault], -1
    jne .wr_restore
    HX edx
    PUTS ":"
    push ecx
    mov ecx, 8
    call puthex
    pop ecx
.wr_restore:
    NL
    TRY .wr_restored
    mov eax, edi
    mov edx, ebp
    wrmsr
.wr_restored:
    add esi, 12
    jmp .wr_next
.wr_done:

    LINE "== instructions"
    %macro INSN 2                       ; INSN "name", instruction text
    PUTS %1
    TRY %%after
    %2
%%after:
    call show_fault
    NL
    %endmacro
    mov eax, [cr4_orig]
    mov cr4, eax
    clts
    fninit
    PUTS "rdtsc"
    TRY rdtsc_after
nondet_tsc_start:                       ; the host's TSC under QEMU: compared by address only,
    rdtsc                               ; and not kept
    xor eax, eax
    xor edx, edx
nondet_tsc_end:
rdtsc_after:
    call show_fault
    NL
    INSN "rdtscp", rdtscp
    INSN "cmovz", {cmovz eax, ebx}
    INSN "fcomi", {fcomi st0, st0}
    INSN "fcmovb", {fcmovb st0, st0}
    INSN "cmpxchg8b", {cmpxchg8b [buf]}
    INSN "mmx pxor", {pxor mm0, mm0}
    INSN "emms", emms
    INSN "fxsave", {fxsave [buf]}
    INSN "fxrstor", {fxrstor [buf]}
    INSN "sse xorps (no OSFXSR)", {xorps xmm0, xmm0}
    PUTS "set OSFXSR"
    TRY .osfxsr_after
    mov eax, [cr4_orig]
    or eax, 0x600
    mov cr4, eax
.osfxsr_after:
    call show_fault
    mov eax, cr4
    HEX "cr4", eax, 8
    NL
    INSN "sse xorps", {xorps xmm0, xmm0}
    INSN "sse ldmxcsr", {ldmxcsr [mxcsr_val]}
    INSN "sse prefetchnta", {prefetchnta [buf]}
    INSN "sse sfence", sfence
    INSN "sse2 pxor", {pxor xmm0, xmm0}
    INSN "sse2 lfence", lfence
    INSN "sse2 mfence", mfence
    INSN "sse2 clflush", {clflush [buf]}
    INSN "sse3 movddup", {movddup xmm0, xmm0}
    INSN "sse3 haddps", {haddps xmm0, xmm0}
    INSN "ssse3 pshufb", {pshufb xmm0, xmm0}
    INSN "ssse3 pshufb mmx", {pshufb mm0, mm0}
    INSN "sse4.1 ptest", {ptest xmm0, xmm0}
    INSN "sse4.2 crc32", {crc32 eax, ebx}
    INSN "mmxext pavgb mmx", {pavgb mm0, mm1}
    INSN "mmxext pshufw", {pshufw mm0, mm1, 0x1B}
    INSN "mmxext pmovmskb mmx", {pmovmskb eax, mm0}
    INSN "mmxext movntq", {movntq [buf], mm0}
    INSN "sse2 paddq mmx", {paddq mm0, mm1}
    INSN "sse2 movnti", {movnti [buf], eax}
    INSN "sse3 fisttp", {fisttp dword [buf]}
    emms
    INSN "popcnt", {popcnt eax, ebx}
    INSN "lzcnt", {lzcnt eax, ebx}
    INSN "movbe", {movbe eax, [buf]}
    INSN "monitor", {monitor}
    xor ecx, ecx
    INSN "xgetbv", xgetbv
    INSN "syscall", syscall
    INSN "sysenter", sysenter
    INSN "sysexit", sysexit
    INSN "pause", pause
    mov eax, [cr4_orig]
    mov cr4, eax
    LINE "== done"
    EXIT 0
