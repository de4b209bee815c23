; pagebench (a benchmark): four address spaces switched by MOV CR3 round-robin, as a scheduler
; would; each slice touches 2048 of its process's 4096 pages (a working set far above a
; 256-entry TLB); first touches fault and get a fresh zeroed frame (demand paging); every 8th
; round each process gets 128 pages write-protected ("fork"), and the writes that then fault
; copy the page to a new frame (copy-on-write). Prints a checksum at the end.
%include "common.inc"
%include "paging.inc"

ROUNDS   equ 320
NPROC    equ 4
TOUCHES  equ 2048                       ; pages touched per slice
PAGES    equ 4096                       ; pages per process: linear 0x40000000-0x40FFFFFF
UBASE    equ 0x40000000
PDS      equ 0x300000                   ; process p's page directory: PDS + p * 0x1000
PTS      equ 0x310000                   ; its four page tables: PTS + (p * 4 + j) * 0x1000
FRAMES   equ 0x01000000                 ; frames handed out from 16 MiB up
COW_SPAN equ 128

; Its variables on a page of their own, as a kernel keeps data apart from code: a write to a
; page that holds translated code is self-modifying code to a binary translator (and to QEMU's
; code bitmap), which is not what this benchmark measures.
section .data align=4096
next_frame: dd FRAMES
free_list:  dd 0                        ; a freed frame's first dword links to the next
demand:     dd 0
cow:        dd 0
checksum:   dd 0
round:      dd 0

section .text
main:
    call machine_init
    GATE 14, bench_pf, KCODE, 0x8E
    ; Every PD: 0-128 MiB identity in global 4 MiB pages (the kernel), PDEs 256-259 -> the
    ; process's own page tables (user region, all PTEs not present at first).
    mov edi, PDS
    mov ecx, (PTS + NPROC * 4 * 0x1000 - PDS) / 4
    xor eax, eax
    rep stosd
    xor ebx, ebx                        ; process
.pd:
    mov edi, ebx
    shl edi, 12
    add edi, PDS
    xor ecx, ecx
.kern:
    mov eax, ecx
    shl eax, 22
    or eax, PG_PS | PG_G | PG_RW | PG_P
    mov [edi + ecx * 4], eax
    inc ecx
    cmp ecx, 32
    jb .kern
    xor ecx, ecx
.user:
    lea eax, [ebx * 4 + ecx]
    shl eax, 12
    add eax, PTS | PG_P | PG_RW
    mov [edi + (UBASE >> 22) * 4 + ecx * 4], eax
    inc ecx
    cmp ecx, 4
    jb .user
    inc ebx
    cmp ebx, NPROC
    jb .pd
    mov eax, cr4
    or eax, CR4_PSE | CR4_PGE
    mov cr4, eax
    mov eax, PDS
    mov cr3, eax
    mov eax, cr0
    or eax, CR0_PG | CR0_WP
    mov cr0, eax
    PUTS "pagebench"
    DEC "rounds", ROUNDS
    DEC "processes", NPROC
    DEC "touches_per_slice", TOUCHES
    NL

.round:
    xor ebx, ebx
.slice:
    mov eax, ebx                        ; switch to process EBX
    shl eax, 12
    add eax, PDS
    mov cr3, eax
    call run_slice
    mov eax, [round]
    and eax, 7
    cmp eax, 7
    jne .next
    call write_protect
.next:
    inc ebx
    cmp ebx, NPROC
    jb .slice
    inc dword [round]
    cmp dword [round], ROUNDS
    jb .round

    PUTS "done"
    DEC "demand_faults", [demand]
    DEC "cow_faults", [cow]
    mov eax, [next_frame]
    sub eax, FRAMES
    shr eax, 12
    DEC "frames", eax
    HEX "checksum", [checksum], 8
    NL
    EXIT 0

; run_slice: process EBX touches TOUCHES pages: page (i * 1237 + round * 331 + p * 97) mod
; PAGES, dword (i mod 1024): read, add, write back, add to the checksum.
run_slice:
    pushad
    mov esi, [round]
    imul esi, esi, 331
    imul eax, ebx, 97
    add esi, eax                        ; page offset of this slice
    mov ebp, [round]
    xor ecx, ecx                        ; i
    mov edx, [checksum]
.touch:
    imul edi, ecx, 1237
    add edi, esi
    and edi, PAGES - 1
    shl edi, 12
    mov eax, ecx
    and eax, 1023
    lea edi, [UBASE + edi + eax * 4]
    mov eax, [edi]
    add eax, ecx
    xor eax, ebp
    mov [edi], eax
    add edx, eax
    inc ecx
    cmp ecx, TOUCHES
    jb .touch
    mov [checksum], edx
    popad
    ret

; write_protect: clear R/W in COW_SPAN present PTEs of process EBX, starting at a page that
; moves with the round; the next MOV CR3 to this process drops its old TLB entries.
write_protect:
    pushad
    mov eax, [round]
    imul eax, eax, 523
    and eax, PAGES - COW_SPAN
    lea edi, [ebx * 4]
    shl edi, 12
    add edi, PTS
    lea edi, [edi + eax * 4]
    mov ecx, COW_SPAN
.wp:
    and dword [edi], ~PG_RW
    add edi, 4
    loop .wp
    popad
    ret

; alloc_frame: EAX = a frame from the free list, else the next new one.
alloc_frame:
    mov eax, [free_list]
    test eax, eax
    jz .new
    push ebx
    mov ebx, [eax]
    mov [free_list], ebx
    pop ebx
    ret
.new:
    mov eax, [next_frame]
    add dword [next_frame], 0x1000
    ret

; #PF: a not-present user page gets a zeroed frame; a write to a write-protected one gets a
; copy in a new frame (the old one is freed). Anything else stops the benchmark.
bench_pf:
    pushad
    mov ebx, cr2
    cmp ebx, UBASE
    jb .bad
    cmp ebx, UBASE + PAGES * 0x1000
    jae .bad
    mov esi, cr3                        ; the PDE and PTE, through the identity map
    mov eax, ebx
    shr eax, 22
    mov esi, [esi + eax * 4]
    and esi, ~0xFFF
    mov eax, ebx
    shr eax, 12
    and eax, 1023
    lea esi, [esi + eax * 4]            ; ESI = &PTE
    mov edx, [esp + 32]                 ; error code
    test edx, PG_P
    jnz .cow
    call alloc_frame
    mov edi, eax
    or eax, PG_P | PG_RW
    mov [esi], eax
    mov ecx, 1024
    xor eax, eax
    rep stosd
    inc dword [demand]
    jmp .out
.cow:
    cmp edx, 3                          ; present, write, supervisor
    jne .bad
    mov ebp, [esi]
    call alloc_frame
    mov edi, eax
    or eax, PG_P | PG_RW
    push esi
    mov esi, ebp
    and esi, ~0xFFF
    mov ecx, 1024
    rep movsd
    sub esi, 0x1000
    mov ecx, [free_list]                ; free the old frame
    mov [esi], ecx
    mov [free_list], esi
    pop esi
    mov [esi], eax
    inc dword [cow]
.out:
    invlpg [ebx]
    popad
    add esp, 4
    iretd
.bad:
    mov edx, [esp + 32]
    PUTS "pagebench: unexpected #PF"
    HEX "cr2", ebx, 8
    HEX "err", edx, 2
    NL
    EXIT 2
