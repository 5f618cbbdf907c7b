/* shard/types.c — the type registry and the per-thread encoding limits
 * (see types.h). Holds no type behaviour itself. */
#include "shard/types.h"
#include "shard/object.h"

const struct type_ops *type_ops_of(int obj_type)
{
    switch (obj_type) {
    case OBJ_LIST: return &list_type_ops;
    case OBJ_SET: return &set_type_ops;
    case OBJ_ZSET: return &zset_type_ops;
    case OBJ_HASH: return &hash_type_ops;
    case OBJ_STREAM: return &stream_type_ops;
    default: return NULL;
    }
}

const char *type_encoding_name(int enc)
{
    static const char *names[] = {
        [OBJ_ENC_RAW] = "raw",           [OBJ_ENC_INT] = "int",         [OBJ_ENC_HT] = "hashtable",
        [OBJ_ENC_INTSET] = "intset",     [OBJ_ENC_SKIPLIST] = "skiplist", [OBJ_ENC_EMBSTR] = "embstr",
        [OBJ_ENC_QUICKLIST] = "quicklist", [OBJ_ENC_STREAM] = "stream", [OBJ_ENC_LISTPACK] = "listpack",
    };
    if (enc < 0 || enc >= (int)(sizeof(names) / sizeof(names[0])) || !names[enc])
        return "unknown";
    return names[enc];
}

static const struct type_limits defaults = {
    .hash_max_listpack_entries = 128,
    .hash_max_listpack_value = 64,
    .set_max_intset_entries = 512,
    .zset_max_listpack_entries = 128,
    .zset_max_listpack_value = 64,
    .list_max_listpack_size = -2,
    .list_compress_depth = 0,
    .stream_node_max_bytes = 4096,
    .stream_node_max_entries = 100,
};

static _Thread_local struct type_limits limits;
static _Thread_local bool limits_set;

const struct type_limits *type_limits(void) { return limits_set ? &limits : &defaults; }

void type_limits_set(const struct type_limits *l)
{
    limits = *l;
    limits_set = true;
}
