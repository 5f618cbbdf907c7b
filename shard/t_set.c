/* shard/t_set.c — the set value type: its structures, encodings and RDB codec
 * (see shard/types.h). Commands live in server/cmd_set.c. Must not know about
 * sockets, RESP or other threads. */
#include "shard/types.h"

const struct type_ops set_type_ops = {.name = "set"};
