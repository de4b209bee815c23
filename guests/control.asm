; control: MOV to/from CR0/CR2/CR3/CR4, CLTS, DR0-DR3/DR6/DR7, INVLPG, WBINVD, INVD, SYSENTER MSRs, CPUID.
%include "common.inc"

%macro SHOWCR 2                         ; SHOWCR "text", crN
    mov eax, %2
    PUTS %1
    HEX %str(%2), eax, 8
    NL
%endmacro

%macro CPUID_LEAF 1
    mov eax, %1
    xor ecx, ecx
    cpuid
    PUTS "CPUID"
    HEX "leaf", %1, 8
    HEX "eax", eax, 8
    HEX "ebx", ebx, 8
    HEX "ecx", ecx, 8
    HEX "edx", edx, 8
    NL
%endmacro

%macro MSR_RW 3                         ; MSR_RW msr, edx, eax : show, write, show
    mov ecx, %1
    rdmsr
    PUTS "RDMSR"
    HEX "msr", ecx, 3
    HEX "edx", edx, 8
    HEX "eax", eax, 8
    mov edx, %2
    mov eax, %3
    wrmsr
    xor eax, eax
    xor edx, edx
    rdmsr
    PUTS " | WRMSR then RDMSR"
    HEX "edx", edx, 8
    HEX "eax", eax, 8
    NL
%endmacro

main:
    SHOWCR "entry", cr0
    SHOWCR "entry", cr2
    SHOWCR "entry", cr3
    SHOWCR "entry", cr4

    ; CR0: MP|NE, then CD (no paging, so WP is harmless too), then back.
    mov eax, cr0
    mov esi, eax
    or eax, 0x00010022                  ; WP NE MP
    mov cr0, eax
    SHOWCR "after setting WP|NE|MP", cr0
    or eax, 0x40000000                  ; CD
    mov cr0, eax
    SHOWCR "after setting CD", cr0
    mov cr0, esi
    SHOWCR "restored", cr0

    ; CR2 is a plain register.
    mov eax, 0x12345678
    mov cr2, eax
    SHOWCR "after MOV cr2,0x12345678", cr2

    ; CR3 without paging: any page-aligned value with PWT/PCD.
    mov eax, 0x00ABC018
    mov cr3, eax
    SHOWCR "after MOV cr3,0x00abc018", cr3
    xor eax, eax
    mov cr3, eax
    SHOWCR "after MOV cr3,0", cr3

    ; CR4: features qemu32 reports (DE PSE MCE PGE OSFXSR OSXMMEXCPT, TSD).
    mov eax, 0x000006DC
    mov cr4, eax
    SHOWCR "after MOV cr4,0x6dc", cr4
    xor eax, eax
    mov cr4, eax
    SHOWCR "after MOV cr4,0", cr4

    ; CLTS clears CR0.TS.
    mov eax, cr0
    or eax, 8
    mov cr0, eax
    SHOWCR "TS set", cr0
    clts
    SHOWCR "after CLTS", cr0

    ; Debug registers: DR6/DR7 have fixed bits; DR7 enables an execute breakpoint at an
    ; address never reached, so nothing fires.
    mov eax, dr6
    PUTS "entry"
    HEX "dr6", eax, 8
    mov eax, dr7
    HEX "dr7", eax, 8
    NL
    mov eax, 0x11111111
    mov dr0, eax
    mov eax, 0x22222222
    mov dr1, eax
    mov eax, 0x33333333
    mov dr2, eax
    mov eax, 0xFFFFF000
    mov dr3, eax
    mov eax, 0x00000040                 ; L3, execute, length 1
    mov dr7, eax
    xor eax, eax
    mov dr6, eax
    PUTS "DR after writes"
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
    xor eax, eax
    mov dr7, eax
    SHOWCR "after MOV dr7,0", dr7

    ; Cache and TLB maintenance: no visible result but must not fault.
    invlpg [0x1000]
    invlpg [main]
    wbinvd
    invd
    LINE "INVLPG WBINVD INVD ok"

    ; SYSENTER MSRs; qemu32 has 32-bit MSR state, so EDX reads back 0 on ESP/EIP.
    MSR_RW 0x174, 0, 0x00000008
    MSR_RW 0x175, 0x11111111, 0xABCD0000
    MSR_RW 0x176, 0x22222222, 0x00123456

    CPUID_LEAF 0
    mov eax, 0
    cpuid
    mov [vendor], ebx
    mov [vendor + 4], edx
    mov [vendor + 8], ecx
    PUTS "CPUID vendor "
    mov esi, vendor
    call puts
    NL
    CPUID_LEAF 1
    CPUID_LEAF 0x80000000

    LINE "control done"
    EXIT 0

section .bss
vendor: resb 16
