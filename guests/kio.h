/* kio.h: COM1 output, port I/O and exit helpers shared by the C guests. */
#ifndef KIO_H
#define KIO_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* Poll LSR.THRE before each byte, as a real driver does. */
static void putc_com1(char c)
{
    while (!(inb(0x3FD) & 0x20))
        ;
    outb(0x3F8, (u8)c);
}

static void puts_com1(const char *s)
{
    while (*s)
        putc_com1(*s++);
}

static void put_hex(u32 v, int digits)
{
    puts_com1("0x");
    for (int i = digits - 1; i >= 0; i--)
        putc_com1("0123456789abcdef"[(v >> (i * 4)) & 15]);
}

static void put_dec(u32 v)
{
    char buf[11];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        putc_com1(buf[--n]);
}

/* " name=0x...." and " name=123" fields; lines end with nl(). */
static void kv_hex(const char *name, u32 v, int digits)
{
    putc_com1(' ');
    puts_com1(name);
    putc_com1('=');
    put_hex(v, digits);
}

static void kv_dec(const char *name, u32 v)
{
    putc_com1(' ');
    puts_com1(name);
    putc_com1('=');
    put_dec(v);
}

static void nl(void) { putc_com1('\n'); }

/* QEMU isa-debug-exit: process status becomes (v << 1) | 1. */
static __attribute__((noreturn)) void exit_v(u8 v)
{
    outb(0xF4, v);
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* gcc may emit calls to these even when freestanding. */
void *memset(void *d, int c, unsigned n);
void *memcpy(void *d, const void *s, unsigned n);
void *memset(void *d, int c, unsigned n)
{
    u8 *p = d;
    while (n--)
        *p++ = (u8)c;
    return d;
}
void *memcpy(void *d, const void *s, unsigned n)
{
    u8 *p = d;
    const u8 *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

/* Deterministic work loads shared by ckernel and compute. */
static u32 crc_table[256];

static void crc32_init(void)
{
    for (u32 i = 0; i < 256; i++) {
        u32 c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static u32 crc32(const u8 *p, u32 n)
{
    u32 c = 0xFFFFFFFFu;
    while (n--)
        c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static u32 lcg_state;
static u32 lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state;
}

/* Count primes below n (n <= sizeof sieve buffer); *last gets the largest. */
static u32 sieve(u8 *composite, u32 n, u32 *last)
{
    u32 count = 0;
    memset(composite, 0, n);
    for (u32 i = 2; i < n; i++) {
        if (composite[i])
            continue;
        count++;
        *last = i;
        for (u32 j = i * 2; j < n; j += i)
            composite[j] = 1;
    }
    return count;
}

static void insertion_sort(u32 *a, u32 n)
{
    for (u32 i = 1; i < n; i++) {
        u32 v = a[i];
        u32 j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

static u32 fib(u32 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

#define MAT 32
static u32 matmul_checksum(u32 (*a)[MAT], u32 (*b)[MAT], u32 (*c)[MAT])
{
    u32 sum = 0;
    for (int i = 0; i < MAT; i++)
        for (int j = 0; j < MAT; j++) {
            u32 s = 0;
            for (int k = 0; k < MAT; k++)
                s += a[i][k] * b[k][j];
            c[i][j] = s;
            sum = sum * 31 + s;
        }
    return sum;
}

#endif
