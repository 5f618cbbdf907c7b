/* server/script.h — Lua scripting support shared by cmd_script.c: SHA1 of
 * script bodies (own implementation, as redis.sha1hex and the EVALSHA name).
 * Owns: hashing only. */
#ifndef DARTER_SERVER_SCRIPT_H
#define DARTER_SERVER_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct lua_State lua_State;
struct worker;
struct mso;
struct reply;

/* 40 lowercase hex digits and a NUL into out[41]. */
void script_sha1hex(char out[41], const void *data, size_t len);
/* Called by a worker thread as it exits: frees its Lua state. */
void script_thread_done(void);

/* cmd_script.c: a new sandboxed Lua state with the redis API (call, pcall,
 * log, ...), cjson, bit, cmsgpack, struct and the error handler global
 * __redis__err__handler. */
lua_State *script_lua_new(void);
/* Push Redis's error table {err="ERR msg"} (msg "-CODE text" keeps CODE). */
void script_push_error(lua_State *L, const char *msg);
/* Stack: [error handler, function]. Runs it for the command in t->argv
 * ("<cmd> <name> <numkeys> keys... args...", numkeys already checked):
 * KEYS/ARGV as globals, or as the function's two arguments when fn_args.
 * `ro`: write commands are refused; `cross_slot`: in cluster mode its keys
 * may hash to several slots (legacy EVAL, allow-cross-slot-keys). Writes the
 * reply into r, pops both. */
void script_invoke(struct worker *w, struct mso *t, lua_State *L, const char *name, bool fn_args, bool ro,
                   bool cross_slot, struct reply *r);
/* Lua error handlers shared by both engines: _G guards. */
int script_l_g_index(lua_State *L);
int script_l_readonly(lua_State *L);
/* Replace the table on top of the stack by a read-only proxy of it. */
void script_make_readonly(lua_State *L);

/* INFO memory: one cached script of a thread (scripts are cached per
 * thread, so the coordinator counts distinct SHA1s). */
struct script_cached {
    char sha[40];
    size_t bytes; /* its cache entry and body */
};
/* This thread's cached scripts. */
size_t script_cache_count(void);
/* Fill out[0..cap) with this thread's cached scripts; returns how many. */
size_t script_cache_list(struct script_cached *out, size_t cap);
/* Bytes this thread's EVAL Lua state uses (0 before its first script). */
size_t script_vm_memory(void);

/* function.c: the function libraries (see function.h). */
#endif
