/* hhkernel: a higher-half Multiboot kernel (linked at 0xC0100000, loaded at 1 MiB; paging is on
 * before its first line, see hhentry.asm): PSE direct map, its own GDT/TSS/IDT, 4 KiB user
 * pages, a user program at CPL 3 with INT 0x80 system calls, user page faults served by mapping
 * fresh pages on demand, and a summary. */
#include "kio.h"

#define KOFF 0xC0000000u
#define PG_P 0x001u
#define PG_RW 0x002u
#define PG_US 0x004u
#define PG_PS 0x080u
#define PG_G 0x100u
#define UBASE 0x08048000u
#define USTACK 0xBFFFF000u
#define HEAP 0x10000000u

struct frame {                          /* pushad, then what the CPU pushed */
    u32 edi, esi, ebp, esp0, ebx, edx, ecx, eax;
    u32 err, eip, cs, eflags, uesp, uss;
};

extern u32 boot_pd[1024];
extern const u32 fixups[];
extern char kstack_top[], user_prog[], user_prog_end[];
extern void isr14(void), isr128(void), isr_stray(void);
extern void enter_user(u32 eip, u32 esp);
extern u32 probe_read(u32 addr);

static u64 gdt[6];
static u64 idt[256];
static u32 tss[26];
static u32 next_frame = 0x400000;       /* physical frames above the kernel's 4 MiB page */
static u32 frames, demand_pages, faults, syscalls, kernel_fixups;

static u32 read_cr(int n)
{
    u32 v = 0;
    if (n == 0)
        __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    else if (n == 2)
        __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    else if (n == 3)
        __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    else
        __asm__ volatile("mov %%cr4, %0" : "=r"(v));
    return v;
}

static void invlpg(u32 va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

static void *phys(u32 pa) { return (void *)(pa + KOFF); } /* through the direct map */

static u32 alloc_frame(void)
{
    u32 pa = next_frame;
    next_frame += 4096;
    frames++;
    u32 *p = phys(pa);
    for (int i = 0; i < 1024; i++)
        p[i] = 0;
    return pa;
}

/* Map one 4 KiB page, making its page table if the PDE has none. */
static void map_page(u32 va, u32 pa, u32 flags)
{
    u32 *pde = &boot_pd[va >> 22];
    if (!(*pde & PG_P))
        *pde = alloc_frame() | PG_P | PG_RW | PG_US;
    u32 *pt = phys(*pde & ~0xFFFu);
    pt[(va >> 12) & 1023] = pa | flags | PG_P;
    invlpg(va);
}

static u64 seg(u32 base, u32 limit, u32 access, u32 flags)
{
    return (u64)(limit & 0xFFFF) | (u64)(base & 0xFFFFFF) << 16 | (u64)access << 40 |
           (u64)((limit >> 16) & 0xF) << 48 | (u64)flags << 52 | (u64)(base >> 24) << 56;
}

static void set_gate(int v, void (*h)(void), u32 type)
{
    u32 a = (u32)h;
    idt[v] = (u64)(a & 0xFFFF) | (u64)0x08 << 16 | (u64)type << 40 | (u64)(a >> 16) << 48;
}

static void machine_init(void)
{
    gdt[1] = seg(0, 0xFFFFF, 0x9A, 0xC);
    gdt[2] = seg(0, 0xFFFFF, 0x92, 0xC);
    gdt[3] = seg(0, 0xFFFFF, 0xFA, 0xC);
    gdt[4] = seg(0, 0xFFFFF, 0xF2, 0xC);
    tss[1] = (u32)kstack_top; /* ESP0 */
    tss[2] = 0x10;            /* SS0 */
    tss[25] = 104u << 16;     /* no I/O bitmap */
    gdt[5] = seg((u32)tss, 103, 0x89, 0);
    struct __attribute__((packed)) { u16 limit; u32 base; } gdtr = {sizeof gdt - 1, (u32)gdt};
    struct __attribute__((packed)) { u16 limit; u32 base; } idtr = {sizeof idt - 1, (u32)idt};
    for (int v = 0; v < 32; v++)
        set_gate(v, isr_stray, 0x8E);
    set_gate(14, isr14, 0x8E);
    set_gate(0x80, isr128, 0xEE);
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
                     "1:\tmov $0x10, %%ax\n\t"
                     "mov %%ax, %%ds\n\tmov %%ax, %%es\n\tmov %%ax, %%ss\n\t"
                     "mov %%ax, %%fs\n\tmov %%ax, %%gs\n\t"
                     "mov $0x28, %%ax\n\tltr %%ax\n\t"
                     "lidt %1"
                     :
                     : "m"(gdtr), "m"(idtr)
                     : "eax", "memory");
}

static void finish(u32 status, const char *how)
{
    puts_com1("summary:");
    puts_com1(how);
    kv_dec("status", status);
    kv_dec("syscalls", syscalls);
    kv_dec("page_faults", faults);
    kv_dec("demand_pages", demand_pages);
    kv_dec("kernel_fixups", kernel_fixups);
    kv_dec("frames", frames);
    nl();
    outb(0xF4, 0);
}

void stray_trap(void)
{
    puts_com1("unexpected exception\n");
    outb(0xF4, 2);
}

void page_fault(struct frame *f)
{
    u32 cr2 = read_cr(2);
    faults++;
    puts_com1((f->cs & 3) ? "user #PF" : "kernel #PF");
    kv_hex("cr2", cr2, 8);
    kv_hex("err", f->err, 2);
    kv_hex("eip", f->eip, 8);
    for (const u32 *x = fixups; x[0]; x += 2) {
        if (x[0] == f->eip) {
            puts_com1(" -> fixup");
            kv_hex("resume", x[1], 8);
            nl();
            f->eip = x[1];
            kernel_fixups += !(f->cs & 3);
            return;
        }
    }
    int heap = cr2 >= HEAP && cr2 < HEAP + 0x100000;
    int stack = cr2 >= USTACK - 0x10000 && cr2 < USTACK;
    if ((f->cs & 3) && !(f->err & PG_P) && (heap || stack)) {
        u32 pa = alloc_frame();
        map_page(cr2 & ~0xFFFu, pa, PG_US | PG_RW);
        demand_pages++;
        puts_com1(" -> demand page");
        kv_hex("frame", pa, 8);
        nl();
        return;
    }
    nl();
    finish(f->err, " killed by a page fault");
}

void syscall(struct frame *f)
{
    syscalls++;
    if (f->eax == 1) {
        const char *s = (const char *)f->ebx;
        puts_com1("user: ");
        for (u32 i = 0; i < f->ecx; i++)
            putc_com1(s[i]);
    } else if (f->eax == 2) {
        puts_com1("user:");
        kv_hex((const char *)f->ebx, f->ecx, 8);
        nl();
    } else {
        finish(f->ebx, " user exit");
    }
}

void kmain(u32 magic, u32 info)
{
    u32 eip;
    __asm__ volatile("call 1f\n1:\tpop %0" : "=r"(eip));
    machine_init();
    puts_com1("hhkernel: paging on before the first line");
    kv_hex("cr0", read_cr(0), 8);
    kv_hex("cr3", read_cr(3), 8);
    kv_hex("cr4", read_cr(4), 8);
    kv_hex("eip_above", eip & 0xFFF00000u, 8);
    nl();
    puts_com1("multiboot");
    kv_hex("magic", magic, 8);
    kv_hex("info_flags", *(u32 *)phys(info), 8);
    kv_hex("pde0", boot_pd[0], 8);
    kv_hex("pde768", boot_pd[768], 8);
    nl();

    /* The identity page is gone: reading the image's low address faults (fixed up). */
    puts_com1("probe 0x00100000 (identity, removed)\n");
    u32 low = probe_read(0x100000);
    puts_com1("probe");
    kv_hex("value", low, 8);
    kv_hex("high_alias", probe_read(KOFF + 0x100000), 8);
    nl();

    /* Direct map of 0-16 MiB with global 4 MiB pages, for the frames the kernel hands out. */
    u32 cr4 = read_cr(4) | 0x80; /* PGE */
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
    for (u32 i = 0; i < 4; i++)
        boot_pd[768 + i] = (i << 22) | PG_PS | PG_G | PG_RW | PG_P;
    puts_com1("kernel");
    kv_hex("cr4", read_cr(4), 8);
    kv_hex("pde769", boot_pd[769], 8);
    nl();

    /* The user program: one read-only code page, one stack page; the rest on demand. */
    u32 code = alloc_frame();
    char *dst = phys(code);
    for (char *s = user_prog; s < user_prog_end; s++)
        *dst++ = *s;
    map_page(UBASE, code, PG_US);
    map_page(USTACK - 4096, alloc_frame(), PG_US | PG_RW);
    u32 *pt = phys(boot_pd[UBASE >> 22] & ~0xFFFu);
    puts_com1("user mapped");
    kv_hex("pde", boot_pd[UBASE >> 22] & 0xFFF, 3);
    kv_hex("pte", pt[(UBASE >> 12) & 1023], 8);
    kv_dec("bytes", (u32)(user_prog_end - user_prog));
    nl();
    enter_user(UBASE, USTACK);
}
