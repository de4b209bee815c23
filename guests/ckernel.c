/* ckernel: a Multiboot kernel in C: own GDT, segment reloads, a PUSHFD/CLI/POPFD critical
 * section, SGDT/SMSW/MOV from CS, deterministic computations, and the Multiboot info. */
#include "kio.h"

struct mb_info {
    u32 flags, mem_lower, mem_upper, boot_device, cmdline;
};

static const u64 gdt[] __attribute__((aligned(8))) = {
    0,
    0x00CF9A000000FFFFull, /* 0x08 code, flat */
    0x00CF92000000FFFFull, /* 0x10 data, flat */
};

static struct __attribute__((packed)) {
    u16 limit;
    u32 base;
} gdtr = {sizeof gdt - 1, (u32)gdt}, sgdt_out;

static u8 big[65536];
static u8 composite[50000];
static u32 arr[2000];
static u32 ma[MAT][MAT], mb[MAT][MAT], mc[MAT][MAT];

static void load_gdt(void)
{
    __asm__ volatile("lgdt %0\n\t"
                     "ljmp $0x08, $1f\n"
                     "1:\n\t"
                     "movw $0x10, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%fs\n\t"
                     "movw %%ax, %%gs\n\t"
                     "movw %%ax, %%ss"
                     :
                     : "m"(gdtr)
                     : "eax", "memory");
}

static u32 critical_increment(volatile u32 *counter)
{
    u32 saved, inside;
    __asm__ volatile("pushfl; popl %0; cli" : "=r"(saved) : : "memory");
    __asm__ volatile("pushfl; popl %0" : "=r"(inside));
    (*counter)++;
    __asm__ volatile("pushl %0; popfl" : : "r"(saved) : "memory", "cc");
    return inside;
}

void kmain(u32 magic, struct mb_info *info);
void kmain(u32 magic, struct mb_info *info)
{
    puts_com1("ckernel: hello from C");
    nl();
    puts_com1("multiboot");
    kv_hex("magic", magic, 8);
    if (info->flags & 1) {
        kv_dec("mem_lower", info->mem_lower);
        kv_dec("mem_upper", info->mem_upper);
    }
    nl();
    if (info->flags & 4) {
        /* QEMU passes "<kernel path> <append>": print only what follows the path. */
        const char *p = (const char *)info->cmdline;
        while (*p && *p != ' ')
            p++;
        while (*p == ' ')
            p++;
        puts_com1("cmdline args=\"");
        puts_com1(p);
        puts_com1("\"");
        nl();
    }

    load_gdt();
    u32 cs, msw;
    __asm__ volatile("movl %%cs, %0" : "=r"(cs));
    __asm__ volatile("sgdt %0" : "=m"(sgdt_out));
    __asm__ volatile("smsw %0" : "=r"(msw));
    puts_com1("after LGDT");
    kv_hex("cs", cs, 4);
    kv_hex("sgdt_base_is_gdt", sgdt_out.base == (u32)gdt, 1);
    kv_hex("sgdt_limit", sgdt_out.limit, 4);
    kv_hex("smsw", msw, 8);
    nl();

    /* IRQs masked at the PIC, so IF=1 outside the critical section is safe. */
    outb(0x21, 0xFF);
    outb(0xA1, 0xFF);
    __asm__ volatile("sti");
    volatile u32 counter = 0;
    u32 inside = critical_increment(&counter);
    u32 after;
    __asm__ volatile("pushfl; popl %0" : "=r"(after));
    __asm__ volatile("cli");
    puts_com1("critical section");
    kv_dec("if_inside", (inside >> 9) & 1);
    kv_dec("if_after", (after >> 9) & 1);
    kv_dec("counter", counter);
    nl();

    u32 last = 0;
    u32 count = sieve(composite, sizeof composite, &last);
    puts_com1("primes below 50000");
    kv_dec("count", count);
    kv_dec("last", last);
    nl();

    crc32_init();
    lcg_state = 12345;
    for (u32 i = 0; i < sizeof big; i++)
        big[i] = (u8)(lcg() >> 24);
    puts_com1("crc32 of 64 KiB");
    kv_hex("crc", crc32(big, sizeof big), 8);
    nl();

    lcg_state = 2024;
    for (u32 i = 0; i < 2000; i++)
        arr[i] = lcg() % 100000;
    insertion_sort(arr, 2000);
    u32 sorted = 1, sum = 0;
    for (u32 i = 0; i < 2000; i++) {
        if (i && arr[i - 1] > arr[i])
            sorted = 0;
        sum = sum * 33 + arr[i];
    }
    puts_com1("sort 2000");
    kv_dec("sorted", sorted);
    kv_dec("min", arr[0]);
    kv_dec("max", arr[1999]);
    kv_hex("checksum", sum, 8);
    nl();

    puts_com1("fib(25)");
    kv_dec("value", fib(25));
    nl();

    for (int i = 0; i < MAT; i++)
        for (int j = 0; j < MAT; j++) {
            ma[i][j] = (u32)(i * 3 + j + 1);
            mb[i][j] = (u32)(i ^ (j * 7)) + 2;
        }
    puts_com1("matmul 32x32");
    kv_hex("checksum", matmul_checksum(ma, mb, mc), 8);
    kv_dec("c00", mc[0][0]);
    nl();

    puts_com1("ckernel done");
    nl();
    exit_v(0);
}
