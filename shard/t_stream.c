/* shard/t_stream.c — the stream value type: its structures, encodings and RDB codec
 * (see shard/types.h). Commands live in server/cmd_stream.c. Must not know about
 * sockets, RESP or other threads. */
#include "shard/types.h"

const struct type_ops stream_type_ops = {.name = "stream"};
