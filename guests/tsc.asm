; tsc: the TSC against the PIT and the RTC, measured the way kernels measure it. Linux's
; quick_pit_calibrate (PIT channel 2 gated by port 0x61, MSB polling on 0x42), its
; pit_calibrate_tsc (the CTC loop, three 10 ms tries, the lowest kept), its PIT-jiffies delay-loop
; calibration (calibrate_delay_converge), memtest86+'s 50 ms TSC measurement, and the TSC ticks
; of one RTC second between two update-ended interrupts; then the RTC's update cycle: UIP set
; about 244 us before each update, the update-ended flag, the alarm, the periodic rate.
; Lines starting with "~" carry the machine's own rates (QEMU's TSC is the host's): the rest
; must equal QEMU's output (tests/test_tsc.py).
%include "common.inc"

PIT_TICK_RATE equ 1193182
MAX_QUICK     equ 50 * PIT_TICK_RATE / 1000 / 256     ; MAX_QUICK_PIT_ITERATIONS
CAL_LATCH     equ PIT_TICK_RATE / 100                  ; 10 ms (CAL_MS)
CAL_LOOPS     equ 1000                                 ; CAL_PIT_LOOPS
MT_LATCH      equ 59659                                ; memtest86+'s PIT_TICKS_50mS
HZ_LATCH      equ (PIT_TICK_RATE + 50) / 100           ; LATCH for HZ = 100
LPS_PREC      equ 8
INTGATE       equ 0x8E

%macro CMOSR 1                          ; AL = CMOS register %1
    mov al, %1
    out 0x70, al
    in al, 0x71
%endmacro

%macro CMOSW 2                          ; CMOS register %1 = %2 (an 8-bit register or imm)
    mov al, %1
    out 0x70, al
    mov al, %2
    out 0x71, al
%endmacro

%macro ARM2 1                           ; channel 2 gated on, speaker off, mode 0 counting %1
    in al, 0x61
    and al, ~2
    or al, 1
    out 0x61, al
    mov al, 0xB0                        ; channel 2, mode 0, binary, lobyte/hibyte
    out 0x43, al
    mov al, %1 & 0xFF
    out 0x42, al
    mov al, %1 >> 8
    out 0x42, al
%endmacro

%macro MHZ 2                            ; MHZ "what", kHz in a register or memory
    PUTS {"~ ", %1, ": "}
    push eax
    mov eax, %2
    call put_mhz
    pop eax
%endmacro

%macro YESNO 0                          ; " yes" if ZF=1 else " no"
    jnz %%no
    LINE " yes"
    jmp %%done
%%no:
    LINE " no"
%%done:
%endmacro

section .data
idtr:   dw 256 * 8 - 1
        dd idt

section .bss
align 8
idt:        resq 256
jiffies:    resd 1
rtc_flags:  resd 1                      ; register C values the IRQ 8 handler read, ORed
uf_count:   resd 1
af_count:   resd 1
pf_count:   resd 1
pf_at_uf:   resd 1                      ; pf_count at the last update-ended interrupt
uf_tsc:     resq 1                      ; TSC at the last update-ended interrupt
af_sec:     resd 1                      ; seconds register read in the alarm interrupt
first_c:    resd 1                      ; register C in the first update-ended interrupt
qp_tsc:     resd 1
qp_d1:      resd 1
qp_i:       resd 1
qp_delta:   resd 1
qp_err:     resd 1
khz_quick:  resd 1
khz_ctc:    resd 1
khz_mt:     resd 1
khz_rtc:    resd 1
ctc_min:    resd 1
ctc_max:    resd 1
ctc_cnt:    resd 1
ctc_t1:     resd 1
tsc_prev:   resd 1
t_uip:      resd 1
alarm_sec:  resd 1
lpj:        resd 1
lpj_base:   resd 1
loopadd:    resd 1
loopadd_b:  resd 1
trials:     resd 1
band:       resd 1
tib:        resd 1
uip_min:    resd 1
uip_first:  resd 1
uip_c:      resd 1
uip_adv:    resd 1
uip_try:    resd 1

section .text
; set_gate: EAX vector, EBX handler (the current CS, a 32-bit interrupt gate).
set_gate:
    push ecx
    lea edi, [idt + eax * 8]
    mov [edi], bx
    mov ecx, cs
    mov [edi + 2], cx
    mov byte [edi + 4], 0
    mov byte [edi + 5], INTGATE
    shr ebx, 16
    mov [edi + 6], bx
    pop ecx
    ret

; put_mhz: EAX kHz printed as MHz rounded to the nearest, then " MHz" and a newline
; (0: "failed").
put_mhz:
    pushad
    test eax, eax
    jz .failed
    add eax, 500
    xor edx, edx
    mov ecx, 1000
    div ecx
    call putdec
    LINE " MHz"
    popad
    ret
.failed:
    LINE "failed"
    popad
    ret

irq0:
    inc dword [jiffies]
    push eax
    mov al, 0x20
    out 0x20, al
    pop eax
    iretd

irq8:
    pushad
    CMOSR 0x0C
    movzx ebx, al
    or [rtc_flags], ebx
    test bl, 0x40                       ; PF
    jz .no_pf
    inc dword [pf_count]
.no_pf:
    test bl, 0x10                       ; UF
    jz .no_uf
    rdtsc
    mov [uf_tsc], eax
    mov [uf_tsc + 4], edx
    mov eax, [pf_count]
    mov [pf_at_uf], eax
    cmp dword [uf_count], 0
    jne .counted
    mov [first_c], ebx
.counted:
    inc dword [uf_count]
.no_uf:
    test bl, 0x20                       ; AF
    jz .no_af
    inc dword [af_count]
    CMOSR 0x00
    movzx eax, al
    mov [af_sec], eax
.no_af:
    mov al, 0x20
    out 0xA0, al
    out 0x20, al
    popad
    iretd

; The 8259s at vectors 0x20-0x2F, everything masked.
pic_init:
    mov al, 0x11
    out 0x20, al
    out 0xA0, al
    mov al, 0x20
    out 0x21, al
    mov al, 0x28
    out 0xA1, al
    mov al, 4
    out 0x21, al
    mov al, 2
    out 0xA1, al
    mov al, 1
    out 0x21, al
    out 0xA1, al
    mov al, 0xFF
    out 0x21, al
    out 0xA1, al
    ret

; ---- Linux arch/x86/kernel/tsc.c: quick_pit_calibrate ---------------------------------------
; expect_msb: BL = the MSB expected; ESI = the TSC of the last read still showing it, EDI =
; delta (TSC now - the TSC before that), EAX = how many reads showed it.
expect_msb:
    push ebp
    xor ebp, ebp
    xor esi, esi
    xor ecx, ecx
.loop:
    cmp ebp, 50000
    jae .end
    in al, 0x42                         ; LSB, ignored
    in al, 0x42
    cmp al, bl
    jne .end
    mov ecx, esi
    rdtsc
    mov esi, eax
    inc ebp
    jmp .loop
.end:
    rdtsc
    sub eax, ecx
    mov edi, eax
    mov eax, ebp
    pop ebp
    ret

; quick_pit: EAX = kHz, or 0 when the calibration failed.
quick_pit:
    in al, 0x61
    and al, ~2
    or al, 1
    out 0x61, al                        ; gate high, speaker off
    mov al, 0xB0                        ; channel 2, mode 0, binary, lobyte/hibyte
    out 0x43, al
    mov al, 0xFF
    out 0x42, al
    out 0x42, al
    in al, 0x42                         ; pit_verify_msb(0): a microsecond for the load
    in al, 0x42
    mov bl, 0xFF
    call expect_msb
    cmp eax, 5
    jbe .fail
    mov [qp_tsc], esi
    mov [qp_d1], edi
    mov dword [qp_i], 1
.iter:
    cmp dword [qp_i], MAX_QUICK
    ja .fail
    mov bl, 0xFF
    sub bl, [qp_i]
    call expect_msb
    cmp eax, 5
    jbe .fail
    sub esi, [qp_tsc]
    mov [qp_delta], esi
    mov eax, [qp_d1]
    add eax, edi
    mov [qp_err], eax
    cmp dword [qp_i], 1
    jne .prec
    mov eax, esi                        ; i == 1: fail fast if 500 ppm is out of reach
    mov ecx, MAX_QUICK
    mul ecx
    shrd eax, edx, 11
    cmp [qp_err], eax
    jae .fail
.prec:
    mov eax, [qp_delta]
    shr eax, 11
    cmp [qp_err], eax
    jb .verify
    inc dword [qp_i]
    jmp .iter
.verify:
    mov bl, 0xFE
    sub bl, [qp_i]
    in al, 0x42
    in al, 0x42
    cmp al, bl
    jne .fail
    mov eax, [qp_delta]                 ; kHz = delta * PIT_TICK_RATE / (i * 256 * 1000)
    mov ecx, PIT_TICK_RATE
    mul ecx
    mov ecx, [qp_i]
    imul ecx, ecx, 256000
    div ecx
    ret
.fail:
    xor eax, eax
    ret

; ---- Linux: pit_calibrate_tsc(CAL_LATCH, CAL_MS, CAL_PIT_LOOPS) -----------------------------
; ctc: EAX = kHz, or 0xFFFFFFFF (ULONG_MAX) when the loop looked disturbed.
ctc:
    ARM2 CAL_LATCH
    rdtsc
    mov [ctc_t1], eax
    mov [tsc_prev], eax
    mov esi, eax                        ; t2
    mov dword [ctc_cnt], 0
    mov dword [ctc_max], 0
    mov dword [ctc_min], 0xFFFFFFFF
.loop:
    in al, 0x61
    test al, 0x20
    jnz .done
    rdtsc
    mov esi, eax
    sub eax, [tsc_prev]
    mov [tsc_prev], esi
    cmp eax, [ctc_min]
    jae .not_min
    mov [ctc_min], eax
.not_min:
    cmp eax, [ctc_max]
    jbe .not_max
    mov [ctc_max], eax
.not_max:
    inc dword [ctc_cnt]
    jmp .loop
.done:
    cmp dword [ctc_cnt], CAL_LOOPS
    jb .bad
    mov eax, [ctc_min]
    imul eax, eax, 10
    cmp [ctc_max], eax
    ja .bad
    mov eax, esi
    sub eax, [ctc_t1]
    xor edx, edx
    mov ecx, 10                         ; CAL_MS
    div ecx
    ret
.bad:
    mov eax, 0xFFFFFFFF
    ret

; ---- memtest86+ 6: the TSC over PIT channel 2 counting 50 ms --------------------------------
; memtest: EAX = clks_per_msec (kHz), 0 when not credible.
memtest:
    ARM2 MT_LATCH
    rdtsc
    mov esi, eax
    mov edi, edx
    xor ebx, ebx
.loop:
    inc ebx
    in al, 0x61
    test al, 0x20
    jz .loop
    rdtsc
    sub eax, esi
    sbb edx, edi
    cmp ebx, 4
    jb .none
    test edx, edx
    jnz .big
    cmp eax, 50000
    jb .none
.big:
    mov ecx, 50
    div ecx
    ret
.none:
    xor eax, eax
    ret

; ---- Linux init/calibrate.c: calibrate_delay_converge, jiffies from IRQ 0 at HZ = 100 -------
; delay: EAX loops of Linux's delay_loop (a DEC/JNZ on its own aligned line).
delay:
    test eax, eax
    jz .out
    jmp .l1
align 16
.l1:
    jmp .l2
align 16
.l2:
    dec eax
    jnz .l2
.out:
    ret

next_jiffy:                             ; wait for the start of a clock tick
    mov eax, [jiffies]
.w:
    cmp eax, [jiffies]
    je .w
    ret

calibrate_delay:
    mov dword [lpj], 1 << 12
    mov dword [trials], 0
    mov dword [band], 0
    mov dword [tib], 0
    call next_jiffy
    mov ebx, [jiffies]
.accel:
    inc dword [tib]
    mov ecx, [band]
    mov eax, 1
    shl eax, cl
    cmp [tib], eax
    jne .same_band
    inc dword [band]
    mov dword [tib], 0
.same_band:
    mov eax, [lpj]
    imul eax, [band]
    call delay
    mov eax, [band]
    add [trials], eax
    cmp ebx, [jiffies]
    je .accel
    mov eax, [band]
    sub [trials], eax
    mov eax, [lpj]
    imul eax, [band]
    mov [loopadd_b], eax
    mov eax, [lpj]
    imul eax, [trials]
    mov [lpj_base], eax
.recal:
    mov eax, [lpj_base]
    mov [lpj], eax
    mov eax, [loopadd_b]
    mov [loopadd], eax
.chop:
    mov eax, [lpj]
    shr eax, LPS_PREC
    cmp [loopadd], eax
    jbe .chopped
    mov eax, [loopadd]
    add [lpj], eax
    call next_jiffy
    mov ebx, [jiffies]
    mov eax, [lpj]
    call delay
    cmp ebx, [jiffies]
    je .short
    mov eax, [loopadd]
    sub [lpj], eax
.short:
    shr dword [loopadd], 1
    jmp .chop
.chopped:
    mov eax, [loopadd]                  ; every step taken: a large underestimate, retry
    shl eax, 1
    add eax, [lpj]
    mov ecx, [loopadd_b]
    shl ecx, 1
    add ecx, [lpj_base]
    cmp eax, ecx
    jne .out
    mov eax, [lpj]
    mov [lpj_base], eax
    shl dword [loopadd_b], 2
    jmp .recal
.out:
    mov eax, [lpj]
    ret

; wait_uf: halt until the update-ended interrupt count reaches EAX.
wait_uf:
    sti
.w:
    cmp [uf_count], eax
    jae .ok
    hlt
    jmp .w
.ok:
    cli
    ret

; sleep_to_uip: halt on 1 ms ticks of channel 0 until the TSC is 995 ms past the last
; update-ended interrupt (lost ticks on a loaded host do not lengthen the sleep).
sleep_to_uip:
    mov eax, [khz_rtc]
    mov ecx, 995
    mul ecx
    add eax, [uf_tsc]
    adc edx, [uf_tsc + 4]
    mov esi, eax
    mov edi, edx
    mov al, 0x34
    out 0x43, al
    mov al, (PIT_TICK_RATE / 1000) & 0xFF
    out 0x40, al
    mov al, (PIT_TICK_RATE / 1000) >> 8
    out 0x40, al
    mov al, 0xFE
    out 0x21, al
    mov al, 0xFF
    out 0xA1, al
    sti
.w:
    hlt
    rdtsc
    sub eax, esi
    sbb edx, edi
    js .w
    cli
    mov al, 0xFF
    out 0x21, al
    ret

; bcd_add: AL = BCD seconds + BL (BL < 60), modulo 60.
bcd_add:
    movzx eax, al
    mov ecx, eax
    shr ecx, 4
    and eax, 15
    imul ecx, ecx, 10
    add eax, ecx
    movzx ecx, bl
    add eax, ecx
    xor edx, edx
    mov ecx, 60
    div ecx
    mov eax, edx
    xor edx, edx
    mov ecx, 10
    div ecx
    shl eax, 4
    or eax, edx
    ret

main:
    cli
    call pic_init
    mov eax, 0x20
    mov ebx, irq0
    call set_gate
    mov eax, 0x28
    mov ebx, irq8
    call set_gate
    lidt [idtr]

    ; What the CPU model reports about its TSC.
    mov eax, 1
    cpuid
    shr edx, 4
    and edx, 1
    PUTS "cpuid"
    DEC "tsc", edx
    mov eax, 0x80000000
    cpuid
    xor edx, edx
    cmp eax, 0x80000007
    jb .no_inv
    mov eax, 0x80000007
    cpuid
    shr edx, 8
    and edx, 1
.no_inv:
    DEC "invariant", edx
    NL

    ; The PIT calibrations, with interrupts off as Linux has them.
    call quick_pit
    mov [khz_quick], eax
    MHZ "quick_pit_calibrate", eax
    mov ebx, 0xFFFFFFFF
    mov edi, 3                          ; ctc keeps EDI (Linux: three tries, the lowest)
.ctc_try:
    call ctc
    cmp eax, ebx
    jae .ctc_worse
    mov ebx, eax
.ctc_worse:
    dec edi
    jnz .ctc_try
    cmp ebx, 0xFFFFFFFF
    jne .ctc_ok
    xor ebx, ebx
.ctc_ok:
    mov [khz_ctc], ebx
    MHZ "pit_calibrate_tsc", ebx
    call memtest
    mov [khz_mt], eax
    MHZ "memtest86+ pit", eax

    ; The delay loop against jiffies: IRQ 0 at 100 Hz.
    mov al, 0x34                        ; channel 0, mode 2, lobyte/hibyte
    out 0x43, al
    mov al, HZ_LATCH & 0xFF
    out 0x40, al
    mov al, HZ_LATCH >> 8
    out 0x40, al
    mov al, 0xFE
    out 0x21, al
    sti
    call calibrate_delay
    cli
    mov [lpj], eax
    PUTS "~ calibrate_delay:"
    DEC "lpj", eax
    xor edx, edx
    mov ecx, 5000                       ; BogoMIPS = lpj / (500000 / HZ)
    div ecx
    DEC "bogomips", eax
    NL
    mov al, 0xFF
    out 0x21, al

    ; The RTC: what SeaBIOS left, then one second between two update-ended interrupts.
    CMOSR 0x0A
    movzx eax, al
    PUTS "rtc"
    HEX "a", eax, 2
    CMOSR 0x0B
    movzx ebx, al
    HEX "b", ebx, 2
    NL
    or bl, 0x12                         ; UIE, 24-hour (BCD as SeaBIOS set it)
    and bl, ~0x68                       ; no PIE, AIE, SET... SQWE kept as it was
    CMOSW 0x0B, bl
    CMOSR 0x0C                          ; clear what was pending
    mov dword [rtc_flags], 0
    mov al, 0xFB                        ; IRQ 2 (the slave) only
    out 0x21, al
    mov al, 0xFE                        ; IRQ 8
    out 0xA1, al
    mov eax, 1
    call wait_uf
    mov esi, [uf_tsc]
    mov edi, [uf_tsc + 4]
    mov eax, 2
    call wait_uf
    mov eax, [uf_tsc]
    mov edx, [uf_tsc + 4]
    sub eax, esi
    sbb edx, edi
    mov ecx, 1000
    div ecx
    mov [khz_rtc], eax
    MHZ "tsc over one rtc second", eax
    PUTS "rtc update-ended interrupt"
    HEX "c", [first_c], 2
    NL

    ; The rates agree within 1 %: each against the RTC's.
    mov ebx, [khz_rtc]
    shr ebx, 7                          ; under 1 % (1/128)
    xor ebp, ebp                        ; disagreements (a calibration that failed: none)
    mov eax, [khz_quick]
    test eax, eax
    jz .a0
    sub eax, [khz_rtc]
    jns .p0
    neg eax
.p0:
    cmp eax, ebx
    jbe .a0
    inc ebp
.a0:
    mov eax, [khz_ctc]
    test eax, eax
    jz .a1
    sub eax, [khz_rtc]
    jns .p1
    neg eax
.p1:
    cmp eax, ebx
    jbe .a1
    inc ebp
.a1:
    mov eax, [khz_mt]
    test eax, eax
    jz .a2
    sub eax, [khz_rtc]
    jns .p2
    neg eax
.p2:
    cmp eax, ebx
    jbe .a2
    inc ebp
.a2:
    PUTS "pit and rtc agree on the tsc rate:"
    test ebp, ebp
    YESNO

    ; UIP, three times (a host's scheduling only ever lengthens what QEMU shows): sleep until
    ; 5 ms before the next update, then poll register A the way kernels do (UIP's rising
    ; edge, then its falling edge) with interrupts off.
    mov dword [uip_min], 0xFFFFFFFF
    mov dword [uip_first], 1
    mov dword [uip_c], 0
    mov dword [uip_adv], 1
    mov dword [uip_try], 3
.uip_try:
    mov al, 0xFB                        ; the slave only, for the update-ended interrupt
    out 0x21, al
    mov al, 0xFE
    out 0xA1, al
    mov eax, [uf_count]
    inc eax
    call wait_uf
    call sleep_to_uip
    xor ebx, ebx                        ; reads until UIP rose
.rise:
    CMOSR 0x0A
    inc ebx
    test al, 0x80
    jz .rise
    rdtsc
    mov [t_uip], eax
    CMOSR 0x00                          ; still the old time: UIP promises 244 us
    movzx edi, al
    cmp ebx, 1
    ja .was_clear
    mov dword [uip_first], 0
.was_clear:
.fall:
    CMOSR 0x0A
    test al, 0x80
    jnz .fall
    rdtsc
    sub eax, [t_uip]
    mov ecx, 1000                       ; ticks * 1000 / kHz = us
    mul ecx
    div dword [khz_rtc]
    cmp eax, [uip_min]
    jae .not_less
    mov [uip_min], eax
.not_less:
    CMOSR 0x0C
    movzx eax, al
    or [uip_c], eax
    mov eax, edi
    mov bl, 1
    call bcd_add
    mov ebx, eax
    CMOSR 0x00
    cmp al, bl
    je .advanced
    mov dword [uip_adv], 0
.advanced:
    dec dword [uip_try]
    jnz .uip_try
    mov esi, [uip_min]
    PUTS "rtc uip"
    DEC "clear_first", [uip_first]
    PUTS " set 200-300 us before the update:"
    cmp esi, 200
    jb .uip_no
    cmp esi, 300
    ja .uip_no
    LINE " yes"
    jmp .uip_done
.uip_no:
    LINE " no"
.uip_done:
    PUTS "~ rtc uip lead"
    DEC "us", esi
    NL
    PUTS "rtc after the update"
    HEX "c", [uip_c], 2
    PUTS " seconds advanced:"
    cmp dword [uip_adv], 1
    YESNO

    ; The alarm: two seconds on (hours and minutes "don't care").
    mov dword [af_count], 0
    mov dword [rtc_flags], 0
    CMOSR 0x00
    mov bl, 2
    call bcd_add
    mov [alarm_sec], eax
    CMOSW 0x01, [alarm_sec]
    CMOSW 0x03, 0xC0
    CMOSW 0x05, 0xC0
    CMOSR 0x0B
    or al, 0x20
    mov bl, al
    CMOSW 0x0B, bl
    CMOSR 0x0C
    mov al, 0xFB
    out 0x21, al
    mov al, 0xFE
    out 0xA1, al
    mov esi, [uf_count]
    sti
.alarm:
    hlt
    cmp dword [af_count], 0
    je .alarm
    cli
    mov eax, [uf_count]
    sub eax, esi
    PUTS "rtc alarm"
    DEC "updates_before", eax
    HEX "flags", [rtc_flags], 2
    PUTS " at its second:"
    mov eax, [af_sec]
    cmp eax, [alarm_sec]
    YESNO

    ; The periodic interrupt at rate 6 (1024 Hz), counted over one RTC second.
    CMOSR 0x0B
    and al, ~0x20
    or al, 0x40                         ; PIE, UIE
    mov bl, al
    CMOSR 0x0A
    and al, 0xF0
    or al, 6
    mov bh, al
    CMOSW 0x0A, bh
    CMOSW 0x0B, bl
    mov eax, [uf_count]
    inc eax
    call wait_uf
    xor edi, edi                        ; the most in one second of three (a loaded host loses some)
    mov ecx, 3
.pf_second:
    mov esi, [pf_at_uf]
    inc eax
    call wait_uf
    mov edx, [pf_at_uf]
    sub edx, esi
    cmp edx, edi
    jbe .pf_fewer
    mov edi, edx
.pf_fewer:
    loop .pf_second
    mov esi, edi
    PUTS "rtc periodic rate 6: 1022-1026 a second:"
    cmp esi, 1022
    jb .pf_no
    cmp esi, 1026
    ja .pf_no
    LINE " yes"
    jmp .pf_done
.pf_no:
    LINE " no"
.pf_done:
    PUTS "~ rtc periodic"
    DEC "per_second", esi
    NL
    CMOSR 0x0B
    and al, ~0x70
    mov bl, al
    CMOSW 0x0B, bl
    CMOSR 0x0C
    LINE "tsc done"
    EXIT 0
