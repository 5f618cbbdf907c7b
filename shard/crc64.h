/* shard/crc64.h — Redis's CRC-64 (Jones polynomial, reflected in and out,
 * init 0, no final xor), as used for RDB files and DUMP payloads. */
#ifndef DARTER_SHARD_CRC64_H
#define DARTER_SHARD_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC over n more bytes; start with crc = 0.
 * crc64_redis(0, "123456789", 9) == 0xe9c6d914c4b8d9ca */
uint64_t crc64_redis(uint64_t crc, const void *p, size_t n);

#endif
