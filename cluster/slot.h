/* cluster/slot.h — Redis Cluster key hashing: CRC16 (XMODEM) of the key or of
 * its {hash tag}, modulo 16384. Owns nothing else; pure functions. */
#ifndef DARTER_CLUSTER_SLOT_H
#define DARTER_CLUSTER_SLOT_H

#include <stddef.h>
#include <stdint.h>

#define CLUSTER_SLOTS 16384

uint16_t crc16_xmodem(const char *buf, size_t len);
/* The slot Redis Cluster assigns to a key. */
unsigned key_hash_slot(const char *key, size_t len);

#endif
