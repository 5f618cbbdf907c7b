/* shard/t_list.c — the list value type: its structures, encodings and RDB codec
 * (see shard/types.h). Commands live in server/cmd_list.c. Must not know about
 * sockets, RESP or other threads. */
#include "shard/types.h"

const struct type_ops list_type_ops = {.name = "list"};
