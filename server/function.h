/* server/function.h — Redis 7 function libraries: the immutable, refcounted
 * set of libraries each worker holds (installed by message: the hops of a
 * global operation, or the loader's install message), building new sets
 * (FUNCTION LOAD/DELETE/FLUSH/RESTORE, RDB loading), and each thread's Lua
 * state that runs them, compiled lazily from the thread's current set.
 * Owns: library metadata parsing, redis.register_function, the per-thread
 * function Lua state. Must not touch keyspace data. */
#ifndef DARTER_SERVER_FUNCTION_H
#define DARTER_SERVER_FUNCTION_H

#include "io/buf.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lua_State lua_State;

/* Script flags, in Redis's order (scripts_flags_def). */
enum fn_flag {
    FN_NO_WRITES = 1 << 0,
    FN_ALLOW_OOM = 1 << 1,
    FN_ALLOW_STALE = 1 << 2,
    FN_NO_CLUSTER = 1 << 3,
    FN_ALLOW_CROSS_SLOT = 1 << 4,
};
#define FN_NFLAGS 5
extern const char *const fn_flag_names[FN_NFLAGS];
/* A flag name (case-insensitive) to its bit, 0 when unknown. */
unsigned fn_flag_parse(const char *name);

struct fn_func {
    char *name;
    char *desc; /* NULL when not given */
    unsigned flags;
};

struct fn_lib {
    char *name;
    char *code; /* the whole payload, shebang included (NUL-terminated) */
    size_t len;
    int nfuncs;
    struct fn_func *funcs;
};

/* Never modified once installed on a thread; freed by the last unref (any
 * thread: the memory comes from mimalloc's shared allocator). */
struct fn_set {
    _Atomic int refs;
    uint64_t version; /* 0: the empty set; else unique per built set */
    int nlibs;
    struct fn_lib *libs;
};

/* This thread's libraries (never NULL). */
const struct fn_set *fn_current(void);
/* Make s this thread's set; takes over one reference (NULL: empty). */
void fn_install(struct fn_set *s);
struct fn_set *fn_set_ref(struct fn_set *s);
void fn_set_unref(struct fn_set *s);
/* A private copy of base (refs 1, new version) to modify before installing. */
struct fn_set *fn_set_copy(const struct fn_set *base);

/* FUNCTION LOAD into s: parse the metadata, compile and run the library in
 * a scratch Lua state (load timeout `timeout_ms`, 0 = none), check Redis's
 * collisions, add it (replacing a library of the same name when `replace`).
 * On success writes the library name into name_out (when given); on error
 * fills err with Redis's text (without the "ERR " prefix). */
bool fn_set_load(struct fn_set *s, const char *code, size_t len, bool replace, int timeout_ms, char *name_out,
                 size_t name_cap, char *err, size_t errlen);
int fn_set_find_lib(const struct fn_set *s, const char *name, size_t len);
/* The function and (when lib_out) its library index. */
const struct fn_func *fn_set_find_func(const struct fn_set *s, const char *name, size_t len, int *lib_out);
void fn_set_remove(struct fn_set *s, int idx);
/* Merge every library of src into dst (FUNCTION RESTORE APPEND/REPLACE);
 * src's libraries move into dst on success (src is then empty). */
bool fn_set_join(struct fn_set *dst, struct fn_set *src, bool replace, char *err, size_t errlen);
int fn_set_count_functions(const struct fn_set *s);

/* Push [error handler, function] for FCALL on this thread's function state
 * (compiled from the current set when it changed). NULL if not found. */
lua_State *fn_push_function(const char *name, size_t len);
/* The worker exits. */
void fn_thread_done(void);
/* INFO memory: bytes this thread's function Lua state uses (0 if none). */
size_t fn_vm_memory(void);

/* RDB_OPCODE_FUNCTION2 + code, per library (RDB and FUNCTION DUMP). */
void fn_write_rdb(const struct fn_set *s, struct buf *b);
/* FUNCTION DUMP payload: the libraries + RDB version + CRC64. */
void fn_dump_payload(const struct fn_set *s, struct buf *b);
/* One RDB FUNCTION2 library into s (no load timeout). */
bool fn_add_from_rdb(struct fn_set *s, const char *code, size_t len, bool replace, char *err, size_t errlen);
/* Parse a FUNCTION DUMP payload into a new set (refs 1). NULL + err (Redis's
 * text, without "ERR ") on failure. */
struct fn_set *fn_restore_payload(const char *p, size_t n, char *err, size_t errlen);

#endif
