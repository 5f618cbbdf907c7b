/* shard/crc64.c — Redis's CRC-64/Jones (reflected), slice-by-8 tables built
 * once at program start. Owns nothing but the tables; pure function. */
#include "shard/crc64.h"

#include <string.h>

/* The Jones polynomial 0xad93d23594c935a9, bit-reversed for the reflected form. */
#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ull

static uint64_t crc_table[8][256];

__attribute__((constructor)) static void crc64_init(void)
{
    for (unsigned n = 0; n < 256; n++) {
        uint64_t c = n;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        crc_table[0][n] = c;
    }
    for (unsigned n = 0; n < 256; n++) {
        uint64_t c = crc_table[0][n];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xff] ^ (c >> 8);
            crc_table[t][n] = c;
        }
    }
}

uint64_t crc64_redis(uint64_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    while (n && ((uintptr_t)s & 7)) {
        crc = crc_table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        crc ^= w;
        crc = crc_table[7][crc & 0xff] ^ crc_table[6][(crc >> 8) & 0xff] ^ crc_table[5][(crc >> 16) & 0xff] ^
              crc_table[4][(crc >> 24) & 0xff] ^ crc_table[3][(crc >> 32) & 0xff] ^
              crc_table[2][(crc >> 40) & 0xff] ^ crc_table[1][(crc >> 48) & 0xff] ^ crc_table[0][crc >> 56];
        s += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}
