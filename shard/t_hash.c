/* shard/t_hash.c — the hash value type: its structures, encodings and RDB codec
 * (see shard/types.h). Commands live in server/cmd_hash.c. Must not know about
 * sockets, RESP or other threads. */
#include "shard/types.h"

const struct type_ops hash_type_ops = {.name = "hash"};
