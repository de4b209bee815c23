; paging_faults: page faults in the middle of things: during interrupt delivery (the ring 1
; handler's stack not present: #PF, mapped, the INT runs again), during the #PF's own delivery
; (the ring 0 stack not present: #DF, taken on the ring 1 stack), REP STOSD and REP MOVSB
; stopping part-way (ECX/ESI/EDI at the fault) and finishing once mapped, and a GDT descriptor
; on a not-present page loaded by MOV to a segment register at CPL 0 and at CPL 3 (the
; descriptor read is a supervisor access: U/S = 0 in the error code either way).
%include "common.inc"
%include "paging.inc"

R1STACK equ 0x407000                    ; ring 1 stack top; its page 0x406000 starts not present
BADSTACK equ 0x40A000                   ; a ring 0 stack top whose page 0x409000 is not present
GDT2    equ 0x411000                    ; a GDT copy; its second and third pages start not present

section .text
main:
    call machine_init
    call paging_tables
    mov eax, user_start
    mov ecx, user_end
    call user_pages
    mov dword [tss + 12], R1STACK       ; SS1:ESP1
    mov dword [tss + 16], R1DATA
    GATE 0x81, ring1_int, R1CODE & ~3, 0xEE
    GATE 8, ring1_df, R1CODE & ~3, 0x8E
    MAP 0x406000, FRAME + 0x6000, PG_RW
    MAP 0x408000, FRAME + 0x8000, PG_RW | PG_US
    MAP 0x409000, FRAME + 0x9000, PG_RW
    call paging_on

    LINE "to CPL 3"
    mov eax, user_main
    mov ebx, ustack_top
    mov edx, .phase2
    jmp enter_user
.phase2:
    mov dword [tss + 4], BADSTACK       ; the next entry to ring 0 pushes onto a missing page
    LINE "to CPL 3 with ESP0 on a not-present page"
    mov eax, user_df
    mov ebx, ustack_top
    mov edx, after_user
    jmp enter_user
after_user:
    mov eax, cr2
    PUTS "after #DF"
    HEX "cr2", eax, 8                   ; the second #PF's address (Intel SDM 6.15, #DF)
    PDUMP "esp0", tss + 4
    NL

    ; --- REP STOSD into a not-present page: 2 of 6 dwords, then #PF at the page boundary ---
    MAP 0x40B000, FRAME + 0xB000, PG_P | PG_RW
    MAP 0x40C000, FRAME + 0xC000, PG_RW
    mov dword [pf_fix], fix_pte
    mov dword [pf_bits], PG_P
    mov dword [pf_regs], 1
    LINE "rep stosd across into a not-present page"
    mov edi, 0x40BFF8
    mov ecx, 6
    mov eax, 0xD1D1D1D1
    rep stosd
    PUTS "after fix"
    HEX "ecx", ecx, 8
    HEX "edi", edi, 8
    PDUMP "[0x40c00c]", 0x40C00C
    NL

    ; --- REP MOVSB with the source, then the destination, running into a not-present page ---
    MAP 0x40D000, FRAME + 0xD000, PG_P | PG_RW
    MAP 0x40E000, FRAME + 0xE000, PG_RW
    mov dword [FRAME + 0xDFFC], 0x44332211
    mov dword [FRAME + 0xE000], 0x88776655
    LINE "rep movsb, source across into a not-present page"
    mov esi, 0x40DFFD
    mov edi, 0x40B100
    mov ecx, 8
    rep movsb
    PUTS "after fix"
    HEX "ecx", ecx, 8
    HEX "esi", esi, 8
    HEX "edi", edi, 8
    PDUMP "[0x40b100]", 0x40B100
    PDUMP "[0x40b104]", 0x40B104
    NL
    MAP 0x40F000, FRAME + 0xF000, PG_P | PG_RW
    MAP 0x410000, FRAME + 0x10000, PG_RW
    LINE "rep movsb, destination across into a not-present page"
    mov esi, 0x40B100
    mov edi, 0x40FFFA
    mov ecx, 8
    rep movsb
    PUTS "after fix"
    HEX "ecx", ecx, 8
    HEX "esi", esi, 8
    HEX "edi", edi, 8
    PDUMP "[0x40fffc]", 0x40FFFC
    PDUMP "[0x410000]", 0x410000
    NL
    mov dword [pf_regs], 0

    ; --- a GDT whose descriptors 0x1010 and 0x2018 lie on not-present pages ---
    mov esi, gdt
    mov edi, FRAME + 0x11000
    mov ecx, (gdt_end - gdt) / 4
    rep movsd
    mov dword [FRAME + 0x12010], 0x0000FFFF   ; 0x1010: flat data, DPL 0, not accessed
    mov dword [FRAME + 0x12014], 0x00CF9200
    mov dword [FRAME + 0x13018], 0x0000FFFF   ; 0x2018: flat data, DPL 3, not accessed
    mov dword [FRAME + 0x1301C], 0x00CFF200
    MAP GDT2, FRAME + 0x11000, PG_P | PG_RW
    MAP GDT2 + 0x1000, FRAME + 0x12000, PG_RW
    MAP GDT2 + 0x2000, FRAME + 0x13000, PG_RW
    lgdt [gdtr2]
    LINE "mov es from a descriptor on a not-present page"
    mov ax, 0x1010
    mov es, ax
    mov eax, es
    PUTS "after fix"
    HEX "es", eax, 4
    PDUMP "desc_hi", GDT2 + 0x1014      ; the CPU set the accessed bit
    NL
    mov ax, KDATA
    mov es, ax
    LINE "the same at CPL 3"
    mov eax, user_gdt
    mov ebx, ustack_top
    mov edx, .back
    jmp enter_user
.back:
    PUTS "done"
    DEC "page_faults", [pf_count]
    PDUMP "desc_hi", GDT2 + 0x201C
    NL
    EXIT 0

; fix_stack: map the page under the ring 1 stack (a supervisor page: the pushes of interrupt
; delivery are supervisor accesses).
fix_stack:
    or dword [PTE_T(0x406000)], PG_P
    invlpg [0x406000]
    ret

; ring 1 handler of INT 0x81: report the frame the CPU pushed on the ring 1 stack, return.
ring1_int:
    mov eax, cs
    mov ebx, ss
    mov ecx, [esp + 4]
    mov edx, [esp + 16]
    PUTS "ring 1 INT 0x81"
    HEX "cs", eax, 4
    HEX "ss", ebx, 4
    mov eax, esp
    HEX "esp", eax, 8
    HEX "from_cs", ecx, 4
    HEX "from_ss", edx, 4
    NL
    iretd

; ring 1 #DF handler: the saved CS:EIP of a #DF are undefined (Intel SDM 6.15), so print the
; error code, give the TSS its good ESP0 back and IRET to a known user address instead.
ring1_df:
    mov eax, [esp]
    mov ebx, cs
    PUTS "#DF on the ring 1 stack"
    HEX "err", eax, 8
    HEX "cs", ebx, 4
    NL
    mov dword [tss + 4], kstack_top
    add esp, 6 * 4                      ; error code and the five-dword frame
    push dword UDATA
    push dword ustack_top
    push dword 0x002
    push dword UCODE
    push dword user_after_df
    iretd

section .data
gdtr2:  dw 0x201F
        dd GDT2

section .text.user progbits alloc exec nowrite align=4096
user_start:
user_main:
    UFAULT fix_stack, 0, 0, 0
    mov eax, 0x81
    int 0x81                            ; #PF delivering it (ring 1 stack), mapped, runs again
    USAY "back from ring 1, eax = its esp", eax
    mov eax, SYS_DONE
    int 0x80

user_df:
    UFAULT 0, 0, 0, 0
    mov eax, [0x408000]                 ; #PF, whose delivery faults too (ESP0): #DF
    USAY "not reached", 0
user_after_df:
    mov eax, esp
    USAY "after #DF, user esp", eax
    mov eax, SYS_DONE
    int 0x80

user_gdt:
    UFAULT fix_pte, 0, 0, PG_P
    mov ax, 0x201B
    mov es, ax                          ; descriptor read: err 0 (supervisor), mapped, again
    mov eax, es
    USAY "es", eax
    mov eax, SYS_DONE
    int 0x80

align 4
    times 256 dd 0
ustack_top:
align 4096
user_end:
