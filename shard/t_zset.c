/* shard/t_zset.c — the zset value type: its structures, encodings and RDB codec
 * (see shard/types.h). Commands live in server/cmd_zset.c. Must not know about
 * sockets, RESP or other threads. */
#include "shard/types.h"

const struct type_ops zset_type_ops = {.name = "zset"};
