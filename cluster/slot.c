/* cluster/slot.c — CRC16/XMODEM (poly 0x1021, init 0) and the hash-tag rule:
 * if the key has a '{' followed later by a '}' with at least one byte between
 * them, only those bytes are hashed. Must not touch any runtime state. */
#include "cluster/slot.h"

static uint16_t crc_table[256];

__attribute__((constructor)) static void crc16_build_table(void)
{
    for (unsigned byte = 0; byte < 256; byte++) {
        uint16_t crc = (uint16_t)(byte << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
        crc_table[byte] = crc;
    }
}

uint16_t crc16_xmodem(const char *buf, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++)
        crc = (uint16_t)((crc << 8) ^ crc_table[((crc >> 8) ^ (uint8_t)buf[i]) & 0xff]);
    return crc;
}

unsigned key_hash_slot(const char *key, size_t len)
{
    size_t open = 0;
    while (open < len && key[open] != '{')
        open++;
    if (open < len) {
        size_t close = open + 1;
        while (close < len && key[close] != '}')
            close++;
        if (close < len && close != open + 1)
            return crc16_xmodem(key + open + 1, close - open - 1) & (CLUSTER_SLOTS - 1);
    }
    return crc16_xmodem(key, len) & (CLUSTER_SLOTS - 1);
}
