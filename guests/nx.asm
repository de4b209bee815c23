; nx: the NX bit under PAE paging, where the CPU model reports it (referenced as nx@n270 and
; nx@coreduo; on qemu32, which has none, it says so and shows EFER.NXE cannot be set): CPUID's
; NX flag, EFER.NXE written and read back, a fetch from a page whose PTE has XD set (#PF with
; P and I/D) while a data read of it works, the page made executable again by clearing XD and
; INVLPG, XD in a 2 MiB PDE, and the I/D bit of a fetch from a not-present page with NXE set
; and clear.
%include "common.inc"
%include "paging.inc"

PDPT    equ 0x380000                    ; 32-byte aligned: 4 PDPTEs
PD0     equ 0x381000                    ; linear 0-1 GiB
PT_ID   equ 0x382000                    ; linear 0-2 MiB, identity, 4 KiB pages
PT_X    equ 0x383000                    ; linear 0x400000-0x5FFFFF (PD0[2]): the test pages
BIG     equ 0x600000                    ; PD0[3]: a 2 MiB page with XD, identity
EFER    equ 0xC0000080
NXE     equ 1 << 11
XD_HI   equ 0x80000000                  ; bit 63, in an entry's high dword
CODE_LEN equ 6                          ; mov eax, 0x11111111 ; ret

%define PTX(lin) (PT_X + (((lin) - 0x400000) >> 12) * 8)

section .rodata
test_code:
    mov eax, 0x11111111
    ret

section .text
show_efer:                              ; print " efer=0x........"
    pushad
    mov ecx, EFER
    rdmsr
    HEX "efer", eax, 8
    popad
    ret

set_nxe:                                ; EFER.NXE = EAX (0 or NXE)
    pushad
    mov ebx, eax
    mov ecx, EFER
    rdmsr
    and eax, ~NXE
    or eax, ebx
    wrmsr
    popad
    ret

main:
    call machine_init
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb no_nx
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 20
    jz no_nx
    PUTS "NX reported"
    call show_efer
    mov eax, NXE
    call set_nxe
    PUTS " NXE set"
    call show_efer
    NL

    mov edi, PDPT                       ; the tables, zeroed
    mov ecx, 0x4000 / 4
    xor eax, eax
    rep stosd
    mov edi, PT_ID
    mov eax, PG_P | PG_RW
.id:
    mov [edi], eax
    add edi, 8
    add eax, 0x1000
    cmp edi, PT_ID + 4096
    jb .id
    mov dword [PDPT], PD0 | PG_P
    mov dword [PD0 + 0], PT_ID | PG_P | PG_RW
    mov dword [PD0 + 8], 0x200000 | PG_PS | PG_P | PG_RW
    mov dword [PD0 + 16], PT_X | PG_P | PG_RW
    mov dword [PD0 + 24], BIG | PG_PS | PG_P | PG_RW
    mov dword [PD0 + 28], XD_HI
    mov esi, test_code                  ; the same code in a test frame and in the 2 MiB page
    mov edi, FRAME + 0x1000
    mov ecx, CODE_LEN
    rep movsb
    mov esi, test_code
    mov edi, BIG
    mov ecx, CODE_LEN
    rep movsb
    mov dword [PTX(0x401000)], FRAME + 0x1000 + PG_P + PG_RW
    mov dword [PTX(0x401000) + 4], XD_HI
    mov dword [PTX(0x402000)], FRAME + 0x1000 + PG_P + PG_RW

    mov eax, cr4
    or eax, CR4_PAE
    mov cr4, eax
    mov eax, PDPT
    mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG
    mov cr0, eax
    LINE "PAE paging on"

    PUTS "fetch from a page without XD"
    xor eax, eax
    call 0x402000
    HEX "eax", eax, 8
    NL
    PUTS "read of the XD page"
    PDUMP "[0x401000]", 0x401000
    NL
    LINE "fetch from the XD page"
    mov dword [pf_resume], after_xd
    call 0x401000
after_xd:
    mov dword [pf_resume], 0
    add esp, 4                          ; the CALL's return address, pushed before the fault
    PUTS "XD cleared, INVLPG, fetch again"
    mov dword [PTX(0x401000) + 4], 0
    invlpg [0x401000]
    xor eax, eax
    call 0x401000
    HEX "eax", eax, 8
    NL
    LINE "fetch from the 2 MiB XD page"
    mov dword [pf_resume], after_big
    call BIG
after_big:
    add esp, 4
    PUTS "read of the 2 MiB XD page"
    PDUMP "[0x600000]", BIG
    NL
    LINE "fetch from a not-present page, NXE set"
    mov dword [pf_resume], after_np
    call 0x403000
after_np:
    add esp, 4
    xor eax, eax
    call set_nxe
    invlpg [0x403000]
    LINE "fetch from a not-present page, NXE clear"
    mov dword [pf_resume], after_np2
    call 0x403000
after_np2:
    add esp, 4
    mov dword [pf_resume], 0
    DEC "done page_faults", [pf_count]
    NL
    EXIT 0

no_nx:
    PUTS "no NX on this CPU model"
    call show_efer
    mov eax, NXE
    call set_nxe
    PUTS " after writing NXE"
    call show_efer
    NL
    EXIT 0
