/* server/script.h — Lua scripting support shared by cmd_script.c: SHA1 of
 * script bodies (own implementation, as redis.sha1hex and the EVALSHA name).
 * Owns: hashing only. */
#ifndef DARTER_SERVER_SCRIPT_H
#define DARTER_SERVER_SCRIPT_H

#include <stddef.h>

/* 40 lowercase hex digits and a NUL into out[41]. */
void script_sha1hex(char out[41], const void *data, size_t len);
/* Called by a worker thread as it exits: frees its Lua state. */
void script_thread_done(void);

#endif
