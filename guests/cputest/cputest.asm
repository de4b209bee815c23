; cputest.asm: the project's CPU test ROM (64 KiB, `bt run --bios` / `qemu-system-i386 -bios`).
; From the reset vector it runs its sections in order, printing through the debug port 0xE9
; and writing a POST code to port 0x80 as each starts; it ends by writing 0 to
; isa-debug-exit at 0xF4. It uses no other device. Build: guests/cputest/build.sh.
;
; Layout: the ROM is F000:0000-FFFF (also 0xFFFF0000-0xFFFFFFFF); every code segment it uses
; has base 0xF0000, so its labels are the offsets in all of them. RAM: IVT 0-3FF, saved entry
; registers 500, GDT 1000, IDT 1800, test buffer 2000, TSS 3000, variables 4000, stacks
; 7000 (real mode and ring 0), 8800 (ring 3), 9000 (ESP0), page tables 10000-11FFF.
;
; Sections (one file each), in this order: entry, real mode, protected mode, exceptions,
; paging, ring 3, virtual-8086 mode (IRETD with VM=1 through the TSS of s_ring3), task
; switches (a second TSS and a task gate), the flags tables.
bits 16
org 0
STACK16 equ 0x7000
%include "macros.inc"

start:                          ; F000:0000 (the ROM's first byte)
    jmp s_entry_save
%include "print.inc"
%include "s_entry.inc"
%include "s_real.inc"
%include "s_pmode.inc"
%include "s_except.inc"
%include "s_paging.inc"
%include "s_ring3.inc"
%include "s_v86.inc"
%include "s_tasks.inc"
%include "s_flags.inc"
    POST 0xFF
    PRINT32 {"cputest: done", 10}
    mov al, 0
    out 0xF4, al
    hlt

    times 0xFFF0 - ($ - $$) db 0xFF
bits 16
reset_vector:                   ; 0xFFFFFFF0: the first instruction fetched
    jmp near s_entry_save       ; CS base still 0xFFFF0000: the entry section runs up there
    times 0x10000 - ($ - $$) db 0xFF
