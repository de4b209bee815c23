; apic: the local APIC and the IOAPIC of QEMU's pc machine: registers as the firmware leaves
; them, the timer (one-shot, periodic, divides), TPR masking, self-IPIs (fixed, NMI, shorthands,
; logical and lowest-priority), SVR, the IOAPIC routing the PIT (pin 2) and IRQ 1 with the
; 8259s masked (edge and level, remote IRR, EOI broadcast), the same under paging through an
; alias page, the APIC base MSR (relocation, global disable) and the 8259 passed through then.
; Prints only what does not depend on host time: values, and counts between two points.
%include "common.inc"

LAPIC   equ 0xFEE00000
IOAPIC  equ 0xFEC00000
ALIAS   equ 0x00800000                  ; linear page mapped to the local APIC under paging
PD      equ 0x380000
PT      equ 0x381000

L_ID    equ 0x020
L_VER   equ 0x030
L_TPR   equ 0x080
L_APR   equ 0x090
L_PPR   equ 0x0A0
L_EOI   equ 0x0B0
L_LDR   equ 0x0D0
L_DFR   equ 0x0E0
L_SVR   equ 0x0F0
L_ISR   equ 0x100
L_TMR   equ 0x180
L_IRR   equ 0x200
L_ESR   equ 0x280
L_ICRLO equ 0x300
L_ICRHI equ 0x310
L_TIMER equ 0x320
L_THERM equ 0x330
L_PERF  equ 0x340
L_LINT0 equ 0x350
L_LINT1 equ 0x360
L_ERROR equ 0x370
L_INIT  equ 0x380
L_CUR   equ 0x390
L_DIV   equ 0x3E0

V_TIMER equ 0x40
V_IPI   equ 0x41
V_PIT   equ 0x60
V_KBD   equ 0x61
V_LEVEL equ 0x62

INTGATE equ 0x8E

%macro LREG 2                           ; LREG "name", offset: a local APIC register
    HEX %1, [LAPIC + %2], 8
%endmacro

%macro LW 2                             ; LW offset, value: write a local APIC register
    mov dword [LAPIC + %1], %2
%endmacro

%macro IOW 2                            ; IOW index, value: write an IOAPIC register
    mov dword [IOAPIC], %1
    mov dword [IOAPIC + 0x10], %2
%endmacro

%macro IOR 1                            ; IOR index: EAX = an IOAPIC register
    mov dword [IOAPIC], %1
    mov eax, [IOAPIC + 0x10]
%endmacro

%macro WAITFOR 2                        ; WAITFOR counter, n: HLT until counter >= n
%%again:
    cli                                 ; no interrupt between the test and the HLT:
    cmp dword [%1], %2
    jae %%done
    sti                                 ; STI's shadow covers the HLT
    hlt
    jmp %%again
%%done:
    sti
%endmacro

%macro BOUNDARY 0                       ; end the basic block: a pending interrupt comes here
    jmp short %%next
%%next:
%endmacro

%macro COUNTER 1                        ; a handler that counts and signals EOI
h_%1:
    inc dword [n_%1]
    mov dword [LAPIC + L_EOI], 0
    iret
%endmacro

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
n_timer: dd 0
n_ipi:   dd 0
n_pit:   dd 0
n_kbd:   dd 0
n_level: dd 0
n_nmi:   dd 0
n_pic:   dd 0
nmi_inside: dd 0
ppr_inside: dd 0
isr_inside: dd 0
kbd_byte:   dd 0
lvl_entry:  dd 0
lvl_tmr:    dd 0
lvl_byte:   dd 0

section .bss
align 8
idt:    resq 256

section .text
set_gate:                               ; EAX vector, EBX handler
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov word [edi + 2], 0x08
    mov byte [edi + 4], 0
    mov byte [edi + 5], INTGATE
    shr ebx, 16
    mov [edi + 6], bx
    ret

%macro GATE 2
    mov eax, %1
    mov ebx, %2
    call set_gate
%endmacro

COUNTER timer
COUNTER ipi
COUNTER pit

h_ipi_ppr:                              ; the IPI handler that looks at PPR and ISR inside
    inc dword [n_ipi]
    mov eax, [LAPIC + L_PPR]
    mov [ppr_inside], eax
    mov eax, [LAPIC + L_ISR + 0x20]     ; vectors 0x40-0x5F
    mov [isr_inside], eax
    mov dword [LAPIC + L_EOI], 0
    iret

h_kbd:                                  ; edge-triggered IRQ 1
    push eax
    inc dword [n_kbd]
    in al, 0x60
    movzx eax, al
    mov [kbd_byte], eax
    mov dword [LAPIC + L_EOI], 0
    pop eax
    iret

h_level:                                ; level-triggered IRQ 1: remote IRR and TMR inside
    push eax
    inc dword [n_level]
    mov dword [IOAPIC], 0x12
    mov eax, [IOAPIC + 0x10]
    mov [lvl_entry], eax
    mov eax, [LAPIC + L_TMR + 0x30]     ; vectors 0x60-0x7F
    mov [lvl_tmr], eax
    in al, 0x60                         ; the line drops
    movzx eax, al
    mov [lvl_byte], eax
    mov dword [LAPIC + L_EOI], 0
    pop eax
    iret

h_nmi:                                  ; a second NMI sent inside waits for the IRET
    inc dword [n_nmi]
    cmp dword [n_nmi], 1
    jne .out
    LW L_ICRLO, 0x00040400              ; self, NMI
    BOUNDARY
    mov eax, [n_nmi]
    mov [nmi_inside], eax
.out:
    iret

h_pic:                                  ; the 8259's IRQ 0 (vector 8), passed through
    push eax
    inc dword [n_pic]
    mov al, 0x20
    out 0x20, al
    pop eax
    iret

h_spurious:
    iret

main:
    mov al, 0xFF                        ; both 8259s masked
    out 0x21, al
    out 0xA1, al
    lgdt [gdtr]
    jmp 0x08:.cs
.cs:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    GATE 2, h_nmi
    GATE 8, h_pic
    GATE V_TIMER, h_timer
    GATE V_IPI, h_ipi
    GATE V_PIT, h_pit
    GATE V_KBD, h_kbd
    GATE V_LEVEL, h_level
    GATE 0xFF, h_spurious
    GATE 0xEF, h_spurious
    lidt [idtr]

    PUTS "cpu"
    mov ecx, 0x1B
    rdmsr
    HEX "apic_base", eax, 8
    HEX "hi", edx, 8
    mov eax, 1
    cpuid
    shr edx, 9
    and edx, 1
    HEX "cpuid_apic", edx, 1
    NL

    PUTS "lapic"
    LREG "id", L_ID
    LREG "ver", L_VER
    LREG "tpr", L_TPR
    LREG "apr", L_APR
    LREG "ppr", L_PPR
    LREG "ldr", L_LDR
    LREG "dfr", L_DFR
    LREG "svr", L_SVR
    NL
    PUTS "lvt"
    LREG "timer", L_TIMER
    LREG "therm", L_THERM
    LREG "perf", L_PERF
    LREG "lint0", L_LINT0
    LREG "lint1", L_LINT1
    LREG "error", L_ERROR
    NL
    PUTS "regs"
    LREG "esr", L_ESR
    LREG "icr_lo", L_ICRLO
    LREG "icr_hi", L_ICRHI
    LREG "init", L_INIT
    LREG "cur", L_CUR
    LREG "div", L_DIV
    xor eax, eax                        ; ISR, TMR and IRR: the eight words of each ORed
    xor ebx, ebx
    xor edx, edx
    mov esi, 0
.vec:
    or eax, [LAPIC + L_ISR + esi]
    or ebx, [LAPIC + L_TMR + esi]
    or edx, [LAPIC + L_IRR + esi]
    add esi, 0x10
    cmp esi, 0x80
    jb .vec
    HEX "isr", eax, 8
    HEX "tmr", ebx, 8
    HEX "irr", edx, 8
    NL

    PUTS "access"
    movzx eax, byte [LAPIC + L_VER]     ; QEMU answers only 32-bit accesses
    HEX "ver_byte", eax, 2
    mov eax, [LAPIC + 0x3F0]            ; no register there: ESR's illegal-address bit
    HEX "hole", eax, 8
    LREG "esr", L_ESR
    LW L_ESR, 0
    LREG "esr_after_write", L_ESR
    LW L_VER, 0xFFFFFFFF                ; read-only
    LREG "ver", L_VER
    LW L_TPR, 0xFFFFFFFF
    LREG "tpr_ff", L_TPR
    LW L_TPR, 0
    LW L_LDR, 0xFFFFFFFF
    LREG "ldr_ff", L_LDR
    LW L_LDR, 0
    LW L_DFR, 0x0FFFFFFF
    LREG "dfr_cluster", L_DFR
    LW L_DFR, 0xFFFFFFFF
    LW L_SVR, 0xFFFFFFFF
    LREG "svr_ff", L_SVR
    LW L_SVR, 0x1FF
    NL

    PUTS "divide"
    xor ebx, ebx
.div:
    mov [LAPIC + L_DIV], ebx
    mov eax, [LAPIC + L_DIV]
    HEX "", eax, 1
    inc ebx
    cmp ebx, 16
    jb .div
    NL

    sti
    ; One-shot, divide by 1, 200,000 ticks (200 us on QEMU's 1 GHz bus clock).
    LW L_DIV, 0xB
    LW L_TIMER, V_TIMER
    LW L_INIT, 200000
    mov eax, [LAPIC + L_CUR]
    mov ebx, [LAPIC + L_CUR]
    cmp eax, ebx
    setae cl
    cmp eax, 200000
    setbe ch
    and cl, ch
    movzx ecx, cl
    WAITFOR n_timer, 1
    PUTS "oneshot"
    HEX "running_ok", ecx, 1
    DEC "ticks", [n_timer]
    LREG "cur", L_CUR
    LREG "lvt", L_TIMER
    LREG "init", L_INIT
    NL
    ; One-shot, divide by 128.
    LW L_DIV, 0xA
    LW L_INIT, 300
    WAITFOR n_timer, 2
    PUTS "oneshot128"
    DEC "ticks", [n_timer]
    LREG "cur", L_CUR
    NL
    ; Periodic, divide by 16: five periods, then masked.
    mov dword [n_timer], 0
    LW L_DIV, 0x3
    LW L_TIMER, 0x20000 | V_TIMER
    LW L_INIT, 4000
    WAITFOR n_timer, 5
    LW L_TIMER, 0x30000 | V_TIMER
    PUTS "periodic"
    DEC "ticks", [n_timer]
    LREG "lvt", L_TIMER
    mov eax, [LAPIC + L_CUR]
    cmp eax, 4000
    setbe al
    movzx eax, al
    HEX "cur_in_range", eax, 1
    NL
    LW L_INIT, 0

    ; TPR: class 4 held back at TPR 0x50 and 0x40, taken when TPR drops to 0x30.
    PUTS "tpr"
    LW L_TPR, 0x50
    LREG "ppr", L_PPR
    LW L_ICRLO, 0x00040000 | V_IPI      ; self, fixed
    BOUNDARY
    DEC "held", [n_ipi]
    mov eax, [LAPIC + L_IRR + 0x20]
    HEX "irr", eax, 8
    LW L_TPR, 0x40
    BOUNDARY
    DEC "at40", [n_ipi]
    LW L_TPR, 0x30
    BOUNDARY
    DEC "at30", [n_ipi]
    mov eax, [LAPIC + L_IRR + 0x20]
    HEX "irr_after", eax, 8
    LREG "isr_after", L_ISR + 0x20
    LW L_TPR, 0
    NL

    PUTS "ipi"
    GATE V_IPI, h_ipi_ppr
    mov dword [n_ipi], 0
    LW L_ICRHI, 0x00000000              ; physical destination 0: this APIC
    LW L_ICRLO, V_IPI
    BOUNDARY
    DEC "phys", [n_ipi]
    HEX "ppr_inside", [ppr_inside], 8
    HEX "isr_inside", [isr_inside], 8
    LREG "icr_lo", L_ICRLO
    LW L_ICRHI, 0x05000000              ; physical destination 5: nobody
    LW L_ICRLO, V_IPI
    BOUNDARY
    DEC "nobody", [n_ipi]
    LW L_ICRHI, 0xFF000000              ; physical broadcast
    LW L_ICRLO, V_IPI
    BOUNDARY
    DEC "broadcast", [n_ipi]
    LW L_ICRLO, 0x00080000 | V_IPI      ; all including self
    BOUNDARY
    DEC "all", [n_ipi]
    LW L_ICRLO, 0x000C0000 | V_IPI      ; all excluding self
    BOUNDARY
    DEC "others", [n_ipi]
    LW L_LDR, 0x01000000                ; logical ID 1, flat model
    LW L_ICRHI, 0x01000000
    LW L_ICRLO, 0x00000800 | V_IPI      ; logical destination 1
    BOUNDARY
    DEC "logical", [n_ipi]
    LW L_ICRHI, 0x02000000
    LW L_ICRLO, 0x00000800 | V_IPI      ; logical destination 2: nobody
    BOUNDARY
    DEC "logical_miss", [n_ipi]
    LW L_ICRHI, 0x01000000
    LW L_ICRLO, 0x00000900 | V_IPI      ; lowest priority, logical 1
    BOUNDARY
    DEC "lowest", [n_ipi]
    LW L_LDR, 0
    LW L_ICRHI, 0
    NL
    PUTS "nmi"
    LW L_ICRLO, 0x00040400              ; self, NMI
    BOUNDARY
    DEC "count", [n_nmi]
    DEC "inside", [nmi_inside]
    LW L_ICRLO, 0x000C4500              ; INIT to all others: nobody there
    LW L_ICRLO, 0x000C4600 | 0x10       ; SIPI to all others
    BOUNDARY
    LINE " init_sipi=alive"

    ; SVR: software disabled, a self-IPI waits in IRR; enabled again, it is taken.
    PUTS "svr"
    mov dword [n_ipi], 0
    LW L_SVR, 0xEF
    LW L_ICRLO, 0x00040000 | V_IPI
    BOUNDARY
    DEC "disabled", [n_ipi]
    mov eax, [LAPIC + L_IRR + 0x20]
    HEX "irr", eax, 8
    LREG "lvt_timer", L_TIMER
    LW L_SVR, 0x1EF
    BOUNDARY
    DEC "enabled", [n_ipi]
    LREG "svr", L_SVR
    NL

    ; IOAPIC
    PUTS "ioapic"
    IOR 0
    HEX "id", eax, 8
    IOR 1
    HEX "ver", eax, 8
    IOR 2
    HEX "arb", eax, 8
    IOR 0x10
    HEX "rte0", eax, 8
    IOR 0x11
    HEX "rte0_hi", eax, 8
    IOR 0x14
    HEX "rte2", eax, 8
    IOR 0x3E
    HEX "rte23", eax, 8
    IOR 0x40
    HEX "beyond", eax, 8
    mov eax, [IOAPIC]
    HEX "regsel", eax, 8
    NL
    PUTS "ioapic_rw"
    IOW 0x10, 0xFFFFFFFF
    IOR 0x10
    HEX "rte0_ff", eax, 8
    IOW 0x11, 0xFFFFFFFF
    IOR 0x11
    HEX "rte0_hi_ff", eax, 8
    IOW 0x10, 0x00010000
    IOW 0x11, 0
    IOW 0, 0xFFFFFFFF
    IOR 0
    HEX "id_ff", eax, 8
    IOW 0, 0
    IOW 1, 0
    IOR 1
    HEX "ver", eax, 8
    NL

    ; The PIT (ISA IRQ 0) on pin 2, edge, to this APIC; the 8259s stay masked.
    IOW 0x15, 0
    IOW 0x14, V_PIT
    WAITFOR n_pit, 3
    IOW 0x14, 0x10000 | V_PIT
    PUTS "pit"
    DEC "ticks", [n_pit]
    DEC "pic", [n_pic]
    IOR 0x14
    HEX "rte2", eax, 8
    NL

    ; IRQ 1 (the i8042's output buffer) on pin 1, edge.
    IOW 0x13, 0
    IOW 0x12, V_KBD
    mov al, 0xD2                        ; write the keyboard output buffer: IRQ 1
    out 0x64, al
    mov al, 0x55
    out 0x60, al
    PUTS "irq1"
    WAITFOR n_kbd, 1
    DEC "count", [n_kbd]
    HEX "byte", [kbd_byte], 2
    NL
    ; Level-triggered: remote IRR set while in service, cleared by the EOI's broadcast.
    IOW 0x12, 0x8000 | V_LEVEL
    mov al, 0xD2
    out 0x64, al
    mov al, 0x66
    out 0x60, al
    PUTS "level"
    WAITFOR n_level, 1
    DEC "count", [n_level]
    HEX "rte_inside", [lvl_entry], 8
    HEX "tmr_inside", [lvl_tmr], 8
    HEX "byte", [lvl_byte], 2
    IOR 0x12
    HEX "rte_after", eax, 8
    mov eax, [LAPIC + L_TMR + 0x30]
    HEX "tmr_after", eax, 8
    NL
    IOW 0x12, 0x10000

    ; Paging: the local APIC through an alias page (4 KiB) and its own 4 MiB page.
    call paging_on
    PUTS "paging"
    mov eax, [ALIAS + L_VER]
    HEX "ver_alias", eax, 8
    mov eax, [LAPIC + L_ID]
    HEX "id", eax, 8
    mov dword [n_ipi], 0
    mov dword [ALIAS + L_ICRLO], 0x00040000 | V_IPI
    BOUNDARY
    DEC "ipi", [n_ipi]
    mov dword [n_timer], 0
    mov dword [ALIAS + L_DIV], 0xB
    mov dword [ALIAS + L_TIMER], V_TIMER
    mov dword [ALIAS + L_INIT], 50000
    WAITFOR n_timer, 1
    DEC "timer", [n_timer]
    mov eax, [ALIAS + L_CUR]
    HEX "cur", eax, 8
    IOR 1
    HEX "ioapic_ver", eax, 8
    NL
    call paging_off

    ; The base MSR: a new base reads back (QEMU's APIC stays at 0xFEE00000), then a global
    ; disable, which sticks and hides CPUID.APIC; the 8259 then reaches the CPU directly.
    PUTS "msr"
    mov ecx, 0x1B
    xor edx, edx
    mov eax, 0xFEF00900
    wrmsr
    rdmsr
    HEX "moved", eax, 8
    LREG "ver_at_fee", L_VER
    mov eax, 0xFEE00900
    wrmsr
    mov eax, 0xFEE00100                 ; EN clear: globally disabled
    wrmsr
    rdmsr
    HEX "disabled", eax, 8
    mov eax, 0xFEE00900
    wrmsr
    rdmsr
    HEX "reenable", eax, 8
    mov eax, 1
    cpuid
    shr edx, 9
    and edx, 1
    HEX "cpuid_apic", edx, 1
    LREG "svr", L_SVR
    NL
    mov al, 0xFE                        ; IRQ 0 unmasked on the master 8259
    out 0x21, al
    WAITFOR n_pic, 2
    mov al, 0xFF
    out 0x21, al
    PUTS "pic"
    DEC "ticks", [n_pic]
    DEC "pit_via_ioapic", [n_pit]
    NL
    cli
    LINE "done"
    EXIT 0

paging_on:
    pushad
    mov edi, PD
    xor eax, eax
    mov ecx, 2048
    rep stosd                           ; PD and PT cleared
    mov dword [PD], 0x00000083          ; 0-4 MiB, 4 MiB page
    mov dword [PD + 2 * 4], PT | 3      ; 8-12 MiB through PT
    mov dword [PT], LAPIC | 0x1B        ; ALIAS -> the local APIC (PCD, PWT)
    mov dword [PD + 0x3FB * 4], 0xFEC00000 | 0x9B ; both APICs, 4 MiB, PCD, PWT
    mov eax, cr4
    or eax, 0x10                        ; PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    jmp .pg
.pg:
    popad
    ret

paging_off:
    push eax
    mov eax, cr0
    and eax, 0x7FFFFFFF
    mov cr0, eax
    jmp .nopg
.nopg:
    pop eax
    ret
