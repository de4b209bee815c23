/* compute: compute-bound benchmark guest: rounds of sieve, CRC32, insertion sort, matmul and
 * recursive calls (about 300 million instructions), checksums printed at the end. */
#include "kio.h"

#ifndef ROUNDS
#define ROUNDS 32
#endif

static u8 big[65536];
static u8 composite[50000];
static u32 arr[2000];
static u32 ma[MAT][MAT], mb[MAT][MAT], mc[MAT][MAT];

void kmain(u32 magic, void *info);
void kmain(u32 magic, void *info)
{
    (void)magic;
    (void)info;
    puts_com1("compute: ");
    put_dec(ROUNDS);
    puts_com1(" rounds");
    nl();
    crc32_init();
    u32 primes = 0, last = 0, crc = 0, sorted = 0, mat = 0, calls = 0;
    for (u32 r = 0; r < ROUNDS; r++) {
        primes += sieve(composite, 40000 + r * 300, &last);

        lcg_state = r * 7919u + 1;
        for (u32 i = 0; i < sizeof big; i++)
            big[i] = (u8)(lcg() >> 24);
        crc ^= crc32(big, sizeof big);

        for (u32 i = 0; i < 2000; i++)
            arr[i] = lcg() % 1000000;
        insertion_sort(arr, 2000);
        for (u32 i = 0; i < 2000; i += 97)
            sorted = sorted * 31 + arr[i];

        for (int i = 0; i < MAT; i++)
            for (int j = 0; j < MAT; j++) {
                ma[i][j] = lcg() & 0xFFFF;
                mb[i][j] = (u32)(i + j) ^ r;
            }
        mat += matmul_checksum(ma, mb, mc);

        calls += fib(20 + (r & 3));
    }
    puts_com1("compute results");
    kv_dec("primes", primes);
    kv_dec("last_prime", last);
    kv_hex("crc", crc, 8);
    kv_hex("sort", sorted, 8);
    kv_hex("matmul", mat, 8);
    kv_dec("fib_sum", calls);
    nl();
    puts_com1("compute done");
    nl();
    exit_v(0);
}
