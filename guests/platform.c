/* platform: a C kernel on the PC platform: its own IDT, the PIC remapped to 0x20/0x28, the PIT
 * at 100 Hz on IRQ 0 counted while it waits in HLT, keyboard bytes on IRQ 1 (put in the i8042
 * output buffer by the kernel itself, command 0xD2, so the run needs no host input), the
 * COM1 THRE interrupt on IRQ 4, the VGA text screen and its cursor, and faults it handles
 * and resumes after: #DE, #UD, #BP, #OF (INTO), #GP, #NP, #SS (segment loads) and INT n
 * through a DPL 0 gate. (No fault from a data access beyond a segment limit: QEMU's TCG does not
 * check data segment limits, so a PC as QEMU models it raises none.) Its serial output is
 * compared with QEMU's.
 *
 * "-append stress" (bt run --append stress) takes 100,000 timer interrupts (the PIT at
 * 10 kHz) and 16,000 faults and software interrupts, then prints the counts. */
#include "kio.h"

#define PIC1 0x20
#define PIC2 0xA0
#define NVEC 48

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};

struct frame { /* what the common stub leaves on the stack */
    u32 edi, esi, ebp, esp0, ebx, edx, ecx, eax;
    u32 vector, error;
    u32 eip, cs, eflags;
};

static const u64 gdt[] __attribute__((aligned(8))) = {
    0,
    0x00CF9A000000FFFFull, /* 0x08 code, flat */
    0x00CF92000000FFFFull, /* 0x10 data, flat */
    0x00CF12000000FFFFull, /* 0x18 data, not present: loading it raises #NP */
    0x00CF12000000FFFFull, /* 0x20 the same: loaded into SS it raises #SS */
};
static struct __attribute__((packed)) { u16 limit; u32 base; } gdtr = {sizeof gdt - 1, (u32)gdt};
static u64 idt[NVEC] __attribute__((aligned(8)));
static struct __attribute__((packed)) { u16 limit; u32 base; } idtr = {sizeof idt - 1, (u32)idt};
extern u32 isr_table[NVEC];

static volatile u32 ticks, kbd_irqs, thre_irqs, spurious, nested;
static volatile u32 faults[32];
static volatile u8 kbd_buf[32];
static volatile u32 kbd_len;
static volatile u32 depth;
volatile u32 resume;           /* (global: named in asm) where a fault resumes: the end of the faulting instruction */
static volatile u32 error_sum; /* the error codes pushed, summed: compared with QEMU's */

/* One stub per vector: push a dummy error code where the CPU pushes none, then the vector. */
#define STUB(n) "isr" #n ":\n\t" "pushl $0\n\t" "pushl $" #n "\n\t" "jmp isr_common\n"
#define STUB_ERR(n) "isr" #n ":\n\t" "pushl $" #n "\n\t" "jmp isr_common\n"
__asm__(".text\n"
        STUB(0) STUB(1) STUB(2) STUB(3) STUB(4) STUB(5) STUB(6) STUB(7) STUB_ERR(8) STUB(9)
        STUB_ERR(10) STUB_ERR(11) STUB_ERR(12) STUB_ERR(13) STUB_ERR(14) STUB(15) STUB(16)
        STUB_ERR(17) STUB(18) STUB(19) STUB(20) STUB(21) STUB(22) STUB(23) STUB(24) STUB(25)
        STUB(26) STUB(27) STUB(28) STUB(29) STUB(30) STUB(31) STUB(32) STUB(33) STUB(34)
        STUB(35) STUB(36) STUB(37) STUB(38) STUB(39) STUB(40) STUB(41) STUB(42) STUB(43)
        STUB(44) STUB(45) STUB(46) STUB(47)
        "isr_common:\n\t"
        "pusha\n\t"
        "pushl %esp\n\t"
        "call isr\n\t"
        "addl $4, %esp\n\t"
        "popa\n\t"
        "addl $8, %esp\n\t"
        "iret\n"
        ".data\n"
        ".globl isr_table\n"
        "isr_table:\n\t"
        ".long isr0, isr1, isr2, isr3, isr4, isr5, isr6, isr7, isr8, isr9, isr10, isr11\n\t"
        ".long isr12, isr13, isr14, isr15, isr16, isr17, isr18, isr19, isr20, isr21, isr22\n\t"
        ".long isr23, isr24, isr25, isr26, isr27, isr28, isr29, isr30, isr31, isr32, isr33\n\t"
        ".long isr34, isr35, isr36, isr37, isr38, isr39, isr40, isr41, isr42, isr43, isr44\n\t"
        ".long isr45, isr46, isr47\n"
        ".text\n");

static void eoi(u32 irq)
{
    if (irq >= 8)
        outb(PIC2, 0x20);
    outb(PIC1, 0x20);
}

void isr(struct frame *f)
{
    u32 v = f->vector;
    if (depth)
        nested++;
    depth++;
    if (v < 32) {
        faults[v]++;
        error_sum += f->error;
        if (resume) { /* a fault: go on after the instruction (traps return there anyway) */
            f->eip = resume;
            resume = 0;
        }
        if (v == 8) { /* never expected: report and stop */
            puts_com1("double fault\n");
            outb(0xF4, 0x7F);
        }
    } else if (v == 0x20) {
        ticks++;
        eoi(0);
    } else if (v == 0x21) {
        u8 sc = inb(0x60);
        if (kbd_len < sizeof kbd_buf)
            kbd_buf[kbd_len++] = sc;
        kbd_irqs++;
        eoi(1);
    } else if (v == 0x24) {
        u8 iir = inb(0x3FA);
        if ((iir & 0x0F) == 0x02) {
            thre_irqs++;
            outb(0x3F9, 0x00); /* IER: no more THRE interrupts */
        }
        eoi(4);
    } else if (v == 0x27 || v == 0x2F) {
        spurious++; /* no EOI for a spurious IRQ */
    } else {
        eoi(v - 0x20);
    }
    depth--;
}

static void set_gate(u32 v, u32 handler, u32 type)
{
    idt[v] = (u64)(handler & 0xFFFF) | (u64)0x08 << 16 | (u64)type << 40 |
             (u64)(handler >> 16) << 48;
}

static void setup_cpu(void)
{
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
                     "1:\n\t"
                     "movw $0x10, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     : : "m"(gdtr) : "eax", "memory");
    for (u32 v = 0; v < NVEC; v++) /* trap gates for #BP, interrupt gates elsewhere */
        set_gate(v, isr_table[v], v == 3 ? 0x8F : 0x8E);
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

static void remap_pic(void)
{
    outb(PIC1, 0x11); outb(PIC2, 0x11);     /* ICW1: edge, cascade, ICW4 */
    outb(PIC1 + 1, 0x20); outb(PIC2 + 1, 0x28); /* ICW2: vector bases */
    outb(PIC1 + 1, 0x04); outb(PIC2 + 1, 0x02); /* ICW3: slave on IRQ 2 */
    outb(PIC1 + 1, 0x01); outb(PIC2 + 1, 0x01); /* ICW4: 8086 mode */
    outb(PIC1 + 1, 0xEC); outb(PIC2 + 1, 0xFF); /* unmask IRQ 0, 1 and 4 */
}

static void pit_hz(u32 hz)
{
    u32 div = 1193182 / hz;
    outb(0x43, 0x34); /* channel 0, lobyte/hibyte, mode 2 */
    outb(0x40, (u8)div);
    outb(0x40, (u8)(div >> 8));
}

static void wait_ticks(u32 n)
{
    u32 until = ticks + n;
    while (ticks < until)
        __asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
}

/* `insn` faults (or traps); the handler resumes at the label after it. */
#define FAULT(insn, ...) \
    __asm__ volatile("movl $1f, resume\n\t" insn "\n1:" : : __VA_ARGS__)

static u32 take_faults(u32 rounds)
{
    for (u32 i = 0; i < rounds; i++) {
        FAULT("xorl %%edx, %%edx\n\tmovl $1, %%eax\n\tdivl %0", "c"(0) : "eax", "edx");
        FAULT("ud2");                                                    /* #UD */
        FAULT("int3");                                                   /* #BP, a trap */
        FAULT("movl $0x7fffffff, %%eax\n\taddl $1, %%eax\n\tinto", : "eax"); /* #OF */
        FAULT("movw $0x2b, %%ax\n\tmovw %%ax, %%ds", : "eax");  /* #GP(0x28): beyond the GDT */
        FAULT("movw $0x18, %%ax\n\tmovw %%ax, %%ds", : "eax");  /* #NP(0x18) */
        FAULT("movw $0x20, %%ax\n\tmovw %%ax, %%ss", : "eax");  /* #SS(0x20) */
        FAULT("int $0x1f");                                      /* INT n, DPL 0 gate at CPL 0 */
    }
    return faults[0] + faults[6] + faults[3] + faults[4] + faults[13] + faults[11] +
           faults[12] + faults[31];
}

/* The VGA text screen: a title, a line per test, the cursor after the last one. */
static volatile u16 *const vga = (u16 *)0xB8000;
static u32 row;

static void vga_line(const char *s, u8 attr)
{
    u32 col = 0;
    for (; *s && col < 80; s++, col++)
        vga[row * 80 + col] = (u16)(attr << 8 | (u8)*s);
    for (; col < 80; col++)
        vga[row * 80 + col] = (u16)(attr << 8 | ' ');
    row++;
    u32 pos = row * 80;
    outb(0x3D4, 0x0F); outb(0x3D5, (u8)pos);
    outb(0x3D4, 0x0E); outb(0x3D5, (u8)(pos >> 8));
}

static void dump_screen(u32 rows)
{
    for (u32 r = 0; r < rows; r++) {
        puts_com1("vga|");
        for (u32 c = 0; c < 80; c++)
            putc_com1((char)(vga[r * 80 + c] & 0xFF));
        puts_com1("|\n");
    }
    outb(0x3D4, 0x0E);
    u32 pos = (u32)inb(0x3D5) << 8;
    outb(0x3D4, 0x0F);
    pos |= inb(0x3D5);
    kv_dec("cursor", pos);
    nl();
}

static int has_word(const char *s, const char *w)
{
    for (; *s; s++) {
        const char *a = s, *b = w;
        while (*b && *a == *b)
            a++, b++;
        if (!*b && (*a == 0 || *a == ' '))
            return 1;
    }
    return 0;
}

static void type_key(u8 scancode)
{
    while (inb(0x64) & 0x02) /* input buffer full */
        ;
    outb(0x64, 0xD2); /* write keyboard output buffer: arrives as if typed */
    outb(0x60, scancode);
}

/* One line: the faults taken in all and by vector, and what must have stayed zero. */
static void report_faults(u32 total, int with_spurious)
{
    kv_dec("faults", total);
    kv_dec("de", faults[0]);
    kv_dec("ud", faults[6]);
    kv_dec("bp", faults[3]);
    kv_dec("of", faults[4]);
    kv_dec("gp", faults[13]);
    kv_dec("np", faults[11]);
    kv_dec("ss", faults[12]);
    kv_dec("int", faults[31]);
    kv_dec("errors", error_sum);
    kv_dec("df", faults[8]);
    if (with_spurious)
        kv_dec("spurious", spurious);
    kv_dec("nested", nested);
    nl();
}

void kmain(u32 magic, struct mb_info *mb)
{
    int stress = (mb->flags & 4) && has_word((const char *)mb->cmdline, "stress");
    puts_com1("platform: ");
    puts_com1(magic == 0x2BADB002 ? "multiboot" : "no multiboot");
    nl();
    setup_cpu();
    remap_pic();
    for (u32 r = 0; r < 25; r++)
        for (u32 c = 0; c < 80; c++)
            vga[r * 80 + c] = 0x0720;
    vga_line("bt platform guest", 0x1F);

    if (stress) {
        pit_hz(10000);
        wait_ticks(100000);
        kv_dec("ticks", ticks);
        report_faults(take_faults(2000), 0);
        outb(0xF4, 0x00);
    }

    pit_hz(100);
    wait_ticks(10);
    kv_dec("ticks", ticks);
    nl();
    vga_line("timer: 10 ticks at 100 Hz", 0x07);

    /* Keys: "bt\n" in scan code set 1 (make and break codes). */
    static const u8 keys[] = {0x30, 0xB0, 0x14, 0x94, 0x1C, 0x9C};
    while (inb(0x64) & 0x02)
        ;
    outb(0x64, 0x60); /* controller command byte: translate, system, keyboard interrupt on */
    while (inb(0x64) & 0x02)
        ;
    outb(0x60, 0x65);
    __asm__ volatile("sti");
    for (u32 i = 0; i < sizeof keys; i++) {
        u32 before = kbd_irqs;
        type_key(keys[i]);
        while (kbd_irqs == before)
            __asm__ volatile("hlt");
    }
    __asm__ volatile("cli");
    puts_com1("keyboard:");
    for (u32 i = 0; i < kbd_len; i++) {
        putc_com1(' ');
        put_hex(kbd_buf[i], 2);
    }
    kv_dec("irqs", kbd_irqs);
    nl();
    vga_line("keyboard: b t enter", 0x07);

    /* COM1: enable the THRE interrupt and OUT2 (the IRQ gate on a PC); it fires at once. */
    outb(0x3FC, 0x0B);
    outb(0x3F9, 0x02);
    __asm__ volatile("sti");
    while (!thre_irqs)
        __asm__ volatile("hlt");
    __asm__ volatile("cli");
    kv_dec("thre_irqs", thre_irqs);
    nl();
    vga_line("serial: THRE interrupt", 0x07);

    report_faults(take_faults(10), 1);
    vga_line("faults: #DE #UD #BP #OF #GP #NP #SS INT handled", 0x07);
    dump_screen(6);
    outb(0xF4, 0x00);
}
