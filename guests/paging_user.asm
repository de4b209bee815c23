; paging_user: CPL 3 (IRET down, INT 0x80 and the TSS back up) on user pages: reads, writes and
; fetches of supervisor, read-only and not-present pages, U/S and R/W in the PDE as well as the
; PTE, CR0.WP (no effect at CPL 3), and the user #PF error codes (U/S with P and W/R; I/D stays
; 0 without NX; RSVD from a reserved bit in a 4 MiB PDE, last).
%include "common.inc"
%include "paging.inc"

section .text
main:
    call machine_init
    call paging_tables
    mov eax, user_start
    mov ecx, user_end
    call user_pages
    mov dword [FRAME + 0x0000], 0x5E5E5E5E
    mov dword [FRAME + 0x1000], 0x0A0A0A0A
    mov dword [FRAME + 0x2000], 0x22222222
    mov dword [FRAME + 0x3000], 0x33333333
    mov dword [FRAME + 0x5000], 0x55555555
    ; 0x400000: supervisor page; 0x401000: user read-only; 0x402000, 0x403000: user, not
    ; present; 0x404000: user, holds code; 0x405000: user, not present, fetched.
    MAP 0x400000, FRAME + 0x0000, PG_P | PG_RW
    MAP 0x401000, FRAME + 0x1000, PG_P | PG_US
    MAP 0x402000, FRAME + 0x2000, PG_RW | PG_US
    MAP 0x403000, FRAME + 0x3000, PG_RW | PG_US
    MAP 0x404000, FRAME + 0x4000, PG_P | PG_RW | PG_US
    MAP 0x405000, FRAME + 0x4000, PG_RW | PG_US
    mov byte [FRAME + 0x4000], 0xC3     ; ret
    ; PT_C[0] is a user page; PD_A[3] reaches it as user, PD_A[5] as supervisor only and
    ; PD_A[6] as user read-only: the PDE's bits combine with the PTE's.
    mov dword [PT_C], (FRAME + 0x5000) | PG_P | PG_RW | PG_US
    mov dword [PD_A + 20], PT_C | PG_P | PG_RW
    mov dword [PD_A + 24], PT_C | PG_P | PG_US
    mov eax, cr4
    or eax, CR4_PSE
    mov cr4, eax
    call paging_on
    mov eax, cr0
    or eax, CR0_WP
    mov cr0, eax

    LINE "to CPL 3 with WP=1"
    mov eax, user_main
    mov ebx, ustack_top
    mov edx, .back
    jmp enter_user
.back:
    mov eax, cr0                        ; WP=0 changes nothing for CPL 3 accesses
    and eax, ~CR0_WP
    mov cr0, eax
    LINE "to CPL 3 with WP=0"
    mov eax, user_wp0
    mov ebx, ustack_top
    mov edx, .back2
    jmp enter_user
.back2:
qemu_differs:                           ; from here QEMU 7.2 leaves the SDM (tests/test_trace_regression.py)
    ; RSVD last: bit 21 of a 4 MiB user PDE. Intel SDM 4.7: RSVD implies P, err = 0x0d; QEMU
    ; 7.2 gives 0x0c (tools/qemu_ref.py corrects the line; QEMU's trace holds up to here).
    mov dword [PD_A + 16], 0x00200000 | PG_PS | PG_P | PG_RW | PG_US
    LINE "to CPL 3: a PDE with a reserved bit"
    mov eax, user_rsvd
    mov ebx, ustack_top
    mov edx, .back3
    jmp enter_user
.back3:
    PUTS "done"
    DEC "page_faults", [pf_count]
    PDUMP "pte_ro", PTE_T(0x401000)
    PDUMP "pte_np", PTE_T(0x402000)
    NL
    EXIT 0

; fix_rsvd: clear the reserved bit of PD_A[4].
fix_rsvd:
    and dword [PD_A + 16], ~0x00200000
    invlpg [eax]
    ret

ksecret:                                ; supervisor code the user calls (never runs)
    ret

section .text.user progbits alloc exec nowrite align=4096
user_start:
user_main:
    mov eax, cs
    USAY "cs", eax
    USAY "read own page", [user_start]
    USAY "read user read-only page", [0x401000]
    UTRY {mov eax, [0x400000]}          ; supervisor page: err 5 (P, U), skipped (5 bytes)
    UTRY {mov dword [0x400000], 1}      ; err 7 (P, W, U), skipped (10 bytes)
    UTRY {mov dword [0x401000], 2}      ; user read-only: err 7
    USAY "read-only page still", [0x401000]
    UFAULT fix_pte, 0, 0, PG_P
    mov eax, [0x402000]                 ; not present: err 4 (U), mapped, runs again
    USAY "read after demand map", eax
    UFAULT fix_pte, 0, 0, PG_P
    mov dword [0x403000], 0x33330001    ; not present: err 6 (W, U), mapped, runs again
    USAY "write after demand map", [0x403000]
    call 0x404000                       ; fetch from a present user page
    USAY "fetch from a user page", 0
    UFAULT 0, .ret1, 0, 0
    call ksecret                        ; fetch of a supervisor page: err 5, I/D = 0
.ret1:
    add esp, 4                          ; the CALL pushed its return address
    UFAULT fix_pte, 0, 0, PG_P
    call 0x405000                       ; fetch of a not-present page: err 4, mapped, runs
    USAY "fetch after demand map", 0
    USAY "read through a user PDE", [0xC00000]
    UTRY {mov eax, [0x1400000]}         ; PDE U/S = 0: err 5 skipped
    UTRY {mov dword [0x1800000], 3}     ; PDE R/W = 0: err 7
    USAY "through the read-only PDE", [0x1800000]
    mov eax, SYS_DONE
    int 0x80

user_wp0:
    UTRY {mov dword [0x401000], 4}      ; user read-only page with WP=0: still err 7
    UTRY {mov dword [0x400004], 5}      ; supervisor page: err 7
    USAY "read-only page with WP=0 still", [0x401000]
    mov eax, SYS_DONE
    int 0x80

user_rsvd:
    UFAULT fix_rsvd, 0, 0, 0
    mov eax, [0x1100000]                ; err 0x0d (SDM; QEMU 7.2: 0x0c), fixed, runs again
    USAY "read after the reserved bit is cleared", eax
    mov eax, SYS_DONE
    int 0x80

align 4
    times 256 dd 0
ustack_top:
align 4096
user_end:
