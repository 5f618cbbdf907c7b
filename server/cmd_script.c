/* server/cmd_script.c — family: EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT.
 *
 * One Lua 5.1 state per worker thread, created lazily on that thread, with
 * Redis's sandbox: libs base/table/string/math plus cjson, bit, cmsgpack and
 * struct; no os/io/loadfile/dofile/print/setfenv/getfenv/newproxy. As in
 * Redis 7.0 the globals and the library tables are read-only ("Attempt to
 * modify a readonly table"): scripts see an empty proxy table as _G and
 * read-only proxies of redis/cjson/bit/...; reading a missing global is an
 * error. A script body is
 * compiled as a chunk named "@user_script" and kept in the thread's registry
 * as f_<sha1>; the thread's cache also keeps the body text.
 *
 * Execution: every EVAL is one GLOBAL multi-shard operation (every shard
 * locked, in txid order). Hop 0 is a barrier on every shard; then the
 * operation's `next` runs the whole script on the coordinator (the
 * connection's thread) while every shard holds the operation at the head of
 * its queue. redis.call runs a command whose keys live on the coordinator
 * right here (exec_command_here); a command whose keys live on another
 * thread is sent to its owner as a message that runs it without the lock
 * check (the operation already holds that shard), and the coordinator spins
 * on an atomic completion counter meanwhile (other threads keep running
 * their loops; only the operation at the head of every queue can spin, so
 * two coordinators never wait on each other). Commands whose keys span
 * threads run their own mso hops the same way. So scripts touching
 * undeclared keys on any thread are atomic. Inside MULTI, EXEC turns global
 * and runs the script as one of its sub-operations.
 *
 * Script caches are per thread: EVAL caches its body on the coordinator;
 * EVALSHA missing here asks the other threads (they are all held by the
 * operation) and loads the body locally. SCRIPT EXISTS / FLUSH are global
 * operations over every thread's cache.
 *
 * Owns: the Lua states, the script caches, the conversions between RESP and
 * Lua values. Must not know any other command's semantics. */
#include "server/server.h"
#include "server/clock.h"
#include "server/log.h"
#include "server/persist.h"
#include "server/script.h"
#include "server/function.h"
#include "server/busy.h" /* busy: the count hook, SCRIPT KILL */
#include "server/monitor.h" /* monitor: commands called by scripts */
#include "server/tracking.h" /* tracking: a script that reads remembers its keys */

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <lua-bitop.h>
#include <lua-cjson.h>
#include "server/lua_libs.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <mimalloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <strings.h>

#define NBUCKETS 1024
/* A script without a shebang: Redis's legacy EVAL mode (no declared flags). */
#define SCRIPT_COMPAT (1u << 31)

struct sentry {
    char sha[41];
    char *body;
    size_t len;
    unsigned flags; /* the shebang's FN_* flags, or SCRIPT_COMPAT without one */
    struct sentry *next;
};

struct lstate {
    lua_State *L;
    struct sentry *tab[NBUCKETS];
    size_t nscripts;
};

/* The script running on this thread (scripts never nest). */
struct run {
    struct worker *w;
    int db;
    int client_resp;
    int lua_resp;      /* redis.setresp */
    uint64_t client_id;
    bool ro;           /* EVAL_RO / EVALSHA_RO, or a no-writes function */
    const char *name;  /* sha1 or function name, for error texts */
    int argc;          /* the invoking command (FUNCTION STATS, MONITOR) */
    const struct arg *argv;
    bool killed;       /* SCRIPT KILL / FUNCTION KILL stopped it */
    bool read_called;  /* tracking: the script ran a readonly command */
    bool one_slot;     /* cluster: keys must stay in one slot (no allow-cross-slot-keys) */
    int slot;          /* cluster: the slot used so far, -1 none */
};

static _Thread_local struct lstate *tl_ls;
static _Thread_local struct run *tl_run;

static void run_begin(struct run *run) { tl_run = run; }
static void run_end(struct run *run)
{
    (void)run;
    tl_run = NULL;
}

/* ---------- the cache ---------- */

static unsigned sha_bucket(const char *sha)
{
    unsigned h = 0;
    for (int i = 0; i < 8; i++)
        h = h * 16 + (unsigned)(isdigit((unsigned char)sha[i]) ? sha[i] - '0' : (tolower((unsigned char)sha[i]) - 'a' + 10) & 15);
    return h & (NBUCKETS - 1);
}

static struct sentry *cache_find(struct lstate *ls, const char *sha)
{
    for (struct sentry *e = ls->tab[sha_bucket(sha)]; e; e = e->next)
        if (strncasecmp(e->sha, sha, 40) == 0)
            return e;
    return NULL;
}

static void cache_add(struct lstate *ls, const char *sha, const char *body, size_t len, unsigned flags)
{
    struct sentry *e = mi_zalloc(sizeof(*e));
    memcpy(e->sha, sha, 41);
    e->flags = flags;
    e->body = mi_malloc(len + 1);
    memcpy(e->body, body, len);
    e->body[len] = 0;
    e->len = len;
    unsigned b = sha_bucket(sha);
    e->next = ls->tab[b];
    ls->tab[b] = e;
    ls->nscripts++;
}

/* ---------- the Lua state ---------- */

static int l_redis_call(lua_State *L);
static int l_redis_pcall(lua_State *L);

static void load_lib(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushcfunction(L, fn);
    lua_pushstring(L, name);
    lua_call(L, 1, 0);
}

static int l_sha1hex(lua_State *L)
{
    if (lua_gettop(L) != 1) {
        lua_newtable(L);
        lua_pushstring(L, "err");
        lua_pushstring(L, "ERR wrong number of arguments");
        lua_settable(L, -3);
        return lua_error(L);
    }
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    char d[41];
    script_sha1hex(d, s ? s : "", s ? len : 0);
    lua_pushstring(L, d);
    return 1;
}

/* Redis's luaPushErrorBuff: "-CODE msg" or "msg" (gets ERR) -> {err="CODE msg"} */
static void push_error(lua_State *L, const char *e, size_t n)
{
    char tmp[1024];
    const char *code = "ERR", *msg = e;
    size_t codelen = 3, msglen = n;
    if (n && e[0] == '-') {
        const char *sp = memchr(e, ' ', n);
        if (!sp) {
            msg = e + 1;
            msglen = n - 1;
        } else {
            code = e + 1;
            codelen = (size_t)(sp - e - 1);
            msg = sp + 1;
            msglen = n - (size_t)(sp + 1 - e);
        }
    }
    while (msglen && (msg[msglen - 1] == '\r' || msg[msglen - 1] == '\n'))
        msglen--;
    luaL_Buffer b;
    (void)tmp;
    lua_newtable(L);
    lua_pushstring(L, "err");
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, code, codelen);
    luaL_addchar(&b, ' ');
    luaL_addlstring(&b, msg, msglen);
    luaL_pushresult(&b);
    lua_settable(L, -3);
}

static int l_error_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (n && s[0] == '-') {
        push_error(L, s, n);
    } else {
        char *t = mi_malloc(n + 2);
        t[0] = '-';
        memcpy(t + 1, s, n);
        push_error(L, t, n + 1);
        mi_free(t);
    }
    return 1;
}

static int l_status_reply(lua_State *L)
{
    if (lua_gettop(L) != 1 || lua_type(L, -1) != LUA_TSTRING) {
        push_error(L, "wrong number or type of arguments", 33);
        return 1;
    }
    lua_newtable(L);
    lua_pushstring(L, "ok");
    lua_pushvalue(L, -3);
    lua_settable(L, -3);
    return 1;
}

void script_push_error(lua_State *L, const char *msg) { push_error(L, msg, strlen(msg)); }

static int raise_msg(lua_State *L, const char *msg)
{
    push_error(L, msg, strlen(msg));
    return lua_error(L);
}

static int l_log(lua_State *L)
{
    int argc = lua_gettop(L);
    if (argc < 2)
        return raise_msg(L, "redis.log() requires two arguments or more.");
    if (!lua_isnumber(L, 1))
        return raise_msg(L, "First argument must be a number (log level).");
    int level = (int)lua_tonumber(L, 1);
    if (level < LL_DEBUG || level > LL_WARNING)
        return raise_msg(L, "Invalid debug level.");
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int j = 2; j <= argc; j++) {
        size_t len;
        const char *s = lua_tolstring(L, j, &len);
        if (s) {
            if (j != 2)
                luaL_addchar(&b, ' ');
            luaL_addlstring(&b, s, len);
        }
    }
    luaL_pushresult(&b);
    serverlog(level, "%s", lua_tostring(L, -1));
    return 0;
}

static int l_setresp(lua_State *L)
{
    if (!tl_run)
        return raise_msg(L, "redis.setresp can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_msg(L, "redis.setresp() requires one argument.");
    int resp = (int)lua_tonumber(L, 1);
    if (resp != 2 && resp != 3)
        return raise_msg(L, "RESP version must be 2 or 3.");
    tl_run->lua_resp = resp;
    return 0;
}

static int l_set_repl(lua_State *L)
{
    if (!tl_run)
        return raise_msg(L, "redis.set_repl can only be called inside a script invocation");
    if (lua_gettop(L) != 1)
        return raise_msg(L, "redis.set_repl() requires two arguments.");
    int flags = (int)lua_tonumber(L, 1);
    if (flags & ~3)
        return raise_msg(L, "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.");
    return 0;
}

static int l_true(lua_State *L)
{
    lua_pushboolean(L, 1);
    return 1;
}

static int l_false(lua_State *L)
{
    lua_pushboolean(L, 0);
    return 1;
}

static int l_noop(lua_State *L)
{
    (void)L;
    return 0;
}

/* pcall for compatibility: an error table becomes its err string */
static int l_pcall(lua_State *L)
{
    int argc = lua_gettop(L);
    luaL_checkany(L, 1);
    int status = lua_pcall(L, argc - 1, LUA_MULTRET, 0);
    if (status) {
        if (lua_istable(L, -1)) {
            lua_getfield(L, -1, "err");
            if (lua_isstring(L, -1))
                lua_replace(L, -2);
            else
                lua_pop(L, 1);
        }
        lua_pushboolean(L, 0);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushboolean(L, 1);
    lua_insert(L, 1);
    return lua_gettop(L);
}

/* Lua 5.1's unpack overflows on huge ranges (Redis patched it): checked here */
static int l_unpack(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    long long i = (long long)luaL_optinteger(L, 2, 1);
    long long e = lua_isnoneornil(L, 3) ? (long long)luaL_getn(L, 1) : (long long)luaL_checkinteger(L, 3);
    if (i > e)
        return 0;
    long long n = e - i + 1;
    if (n >= INT_MAX || !lua_checkstack(L, (int)n))
        return luaL_error(L, "too many results to unpack");
    for (long long k = i; k <= e; k++)
        lua_rawgeti(L, 1, (int)k);
    return (int)n;
}

/* LuaBitOp's tohex overflows on n == INT32_MIN (Redis patched it): clamp */
static int l_bit_tohex(lua_State *L)
{
    if (lua_gettop(L) >= 2 && lua_isnumber(L, 2) && lua_tonumber(L, 2) <= -2147483648.0) {
        lua_pushnumber(L, -2147483647.0);
        lua_replace(L, 2);
    }
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, 1);
    return 1;
}

/* loadstring / load without binary chunks */
static int l_loadstring(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *name = luaL_optstring(L, 2, s);
    if (n && s[0] == LUA_SIGNATURE[0]) {
        lua_pushnil(L);
        lua_pushstring(L, "attempt to load a binary chunk");
        return 2;
    }
    if (luaL_loadbuffer(L, s, n, name)) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    return 1;
}

/* "Attempt to modify a readonly table", located at the Lua code `level`
 * frames up (as Redis's patched Lua reports it). */
static int readonly_error(lua_State *L, int level)
{
    luaL_where(L, level);
    lua_pushstring(L, "Attempt to modify a readonly table");
    lua_concat(L, 2);
    return lua_error(L);
}

/* __newindex of every protected table: level 1 is the assigning code. */
int script_l_readonly(lua_State *L) { return readonly_error(L, 1); }

int script_l_g_index(lua_State *L)
{
    const char *n = lua_tostring(L, 2);
    return luaL_error(L, "Script attempted to access nonexistent global variable '%s'", n ? n : "?");
}

/* What getmetatable() returns for a protected table: an empty table that
 * refuses writes (getmetatable(_G).__index = ... must fail). */
static void push_metatable_guard(lua_State *L)
{
    lua_newtable(L);
    lua_newtable(L);
    lua_pushcfunction(L, script_l_readonly);
    lua_setfield(L, -2, "__newindex");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
}

/* Replace the table on top of the stack by a read-only proxy of it (Debian's
 * Lua 5.1 lacks Redis's read-only table flag: reads go through __index,
 * writes hit __newindex, and the metatable cannot be replaced). */
void script_make_readonly(lua_State *L)
{
    lua_newtable(L);
    lua_newtable(L);
    lua_pushvalue(L, -3);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, script_l_readonly);
    lua_setfield(L, -2, "__newindex");
    push_metatable_guard(L);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_remove(L, -2);
}

/* setmetatable on a protected table fails the way Redis's does. */
static int l_setmetatable(lua_State *L)
{
    if (lua_type(L, 1) == LUA_TTABLE && luaL_getmetafield(L, 1, "__metatable"))
        return readonly_error(L, 1);
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, 1);
    return 1;
}

/* Basic types' metatables (the string library's) are not handed out. */
static int l_getmetatable(lua_State *L)
{
    luaL_checkany(L, 1);
    if (lua_type(L, 1) != LUA_TTABLE) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, 1);
    return 1;
}

static void wrap_global(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_getglobal(L, name);
    lua_pushcclosure(L, fn, 1);
    lua_setglobal(L, name);
}

static void protect_global(lua_State *L, const char *name)
{
    lua_getglobal(L, name);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        return;
    }
    script_make_readonly(L);
    lua_setglobal(L, name);
}

static const char err_handler_src[] =
    "local dbg = debug\n"
    "__redis__err__handler = function (err)\n"
    "  local i = dbg.getinfo(2,'nSl')\n"
    "  if i and i.what == 'C' then\n"
    "    i = dbg.getinfo(3,'nSl')\n"
    "  end\n"
    "  if type(err) ~= 'table' then\n"
    "    err = {err='ERR ' .. tostring(err)}\n"
    "  end\n"
    "  if i then\n"
    "    err['source'] = i.source\n"
    "    err['line'] = i.currentline\n"
    "  end\n"
    "  return err\n"
    "end\n";

static void set_fn(lua_State *L, const char *name, lua_CFunction fn)
{
    lua_pushstring(L, name);
    lua_pushcfunction(L, fn);
    lua_settable(L, -3);
}

static void set_num(lua_State *L, const char *name, double v)
{
    lua_pushstring(L, name);
    lua_pushnumber(L, v);
    lua_settable(L, -3);
}

lua_State *script_lua_new(void)
{
    lua_State *L = luaL_newstate();
    load_lib(L, "", luaopen_base);
    load_lib(L, LUA_TABLIBNAME, luaopen_table);
    load_lib(L, LUA_STRLIBNAME, luaopen_string);
    load_lib(L, LUA_MATHLIBNAME, luaopen_math);
    load_lib(L, LUA_DBLIBNAME, luaopen_debug);
    lua_pushcfunction(L, luaopen_cjson);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cjson");
    lua_pushcfunction(L, luaopen_bit);
    lua_pushstring(L, "bit");
    lua_call(L, 1, 1);
    lua_getfield(L, -1, "tohex");
    lua_pushcclosure(L, l_bit_tohex, 1);
    lua_setfield(L, -2, "tohex");
    lua_setglobal(L, "bit");
    static const char *const removed[] = {"loadfile", "dofile", "print", "setfenv", "getfenv", "newproxy", "module", "require", "package", NULL};
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, removed[i]);
    }
    lua_pushcfunction(L, l_pcall);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, l_unpack);
    lua_setglobal(L, "unpack");
    lua_pushcfunction(L, l_loadstring);
    lua_setglobal(L, "loadstring");
    lua_pushnil(L);
    lua_setglobal(L, "load"); /* takes a reader function: could feed bytecode */

    lua_newtable(L);
    set_fn(L, "call", l_redis_call);
    set_fn(L, "pcall", l_redis_pcall);
    set_fn(L, "log", l_log);
    set_fn(L, "sha1hex", l_sha1hex);
    set_fn(L, "error_reply", l_error_reply);
    set_fn(L, "status_reply", l_status_reply);
    set_fn(L, "setresp", l_setresp);
    set_fn(L, "set_repl", l_set_repl);
    set_fn(L, "replicate_commands", l_true);
    set_fn(L, "breakpoint", l_false);
    set_fn(L, "debug", l_noop);
    set_num(L, "LOG_DEBUG", LL_DEBUG);
    set_num(L, "LOG_VERBOSE", LL_VERBOSE);
    set_num(L, "LOG_NOTICE", LL_NOTICE);
    set_num(L, "LOG_WARNING", LL_WARNING);
    set_num(L, "REPL_NONE", 0);
    set_num(L, "REPL_AOF", 1);
    set_num(L, "REPL_SLAVE", 2);
    set_num(L, "REPL_REPLICA", 2);
    set_num(L, "REPL_ALL", 3);
    lua_pushstring(L, "REDIS_VERSION");
    lua_pushstring(L, "7.0.15");
    lua_settable(L, -3);
    set_num(L, "REDIS_VERSION_NUM", 0x07000f);
    lua_setglobal(L, "redis");

    if (luaL_loadbuffer(L, err_handler_src, sizeof(err_handler_src) - 1, "@err_handler") || lua_pcall(L, 0, 0, 0)) {
        serverlog(LL_WARNING, "Lua: cannot create the error handler: %s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pushnil(L);
    lua_setglobal(L, "debug");
    lua_pushcfunction(L, luaopen_cmsgpack);
    lua_call(L, 0, 1);
    lua_setglobal(L, "cmsgpack");
    lua_pushcfunction(L, luaopen_struct);
    lua_call(L, 0, 1);
    lua_setglobal(L, "struct");
    wrap_global(L, "setmetatable", l_setmetatable);
    wrap_global(L, "getmetatable", l_getmetatable);
    static const char *const libs[] = {"redis", "cjson", "bit", "cmsgpack", "struct", "string", "math", "table", "coroutine", NULL};
    for (int i = 0; libs[i]; i++)
        protect_global(L, libs[i]);
    /* The globals scripts see: an empty table (writes refused, so creating a
     * global or replacing _G fails) reading through to the real ones, whose
     * own missing names are an error. */
    lua_pushvalue(L, LUA_GLOBALSINDEX);
    lua_newtable(L);
    lua_pushcfunction(L, script_l_g_index);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    script_make_readonly(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_GLOBALSINDEX, "_G");
    lua_replace(L, LUA_GLOBALSINDEX);
    return L;
}

static struct lstate *ls_get(void)
{
    if (!tl_ls)
        tl_ls = mi_zalloc(sizeof(*tl_ls));
    if (!tl_ls->L)
        tl_ls->L = script_lua_new();
    return tl_ls;
}

static void ls_flush(void)
{
    struct lstate *ls = tl_ls;
    if (!ls)
        return;
    for (int i = 0; i < NBUCKETS; i++) {
        struct sentry *e = ls->tab[i];
        while (e) {
            struct sentry *n = e->next;
            mi_free(e->body);
            mi_free(e);
            e = n;
        }
        ls->tab[i] = NULL;
    }
    ls->nscripts = 0;
    if (ls->L)
        lua_close(ls->L);
    ls->L = NULL;
}

size_t script_cache_count(void) { return tl_ls ? tl_ls->nscripts : 0; }

size_t script_cache_list(struct script_cached *out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; tl_ls && i < NBUCKETS; i++)
        for (struct sentry *e = tl_ls->tab[i]; e && n < cap; e = e->next, n++) {
            memcpy(out[n].sha, e->sha, 40);
            out[n].bytes = sizeof(*e) + mi_usable_size(e->body);
        }
    return n;
}

size_t script_vm_memory(void)
{
    return tl_ls && tl_ls->L ? (size_t)lua_gc(tl_ls->L, LUA_GCCOUNT, 0) * 1024 : 0; /* Redis's KB granularity */
}

/* The worker is stopping: close its Lua state and drop its script cache. */
void script_thread_done(void)
{
    fn_thread_done();
    ls_flush();
    mi_free(tl_ls);
    tl_ls = NULL;
}

/* ---------- the EVAL shebang ---------- */

/* One word of the shebang line as Redis's sdssplitargs splits it: blanks
 * separate words, double quotes take C escapes (\xHH, \n, ...), single
 * quotes take \', a closing quote must end the word. Writes the word into
 * out (as long as the line at most). Returns 1 with a word, 0 at the end, -1
 * on unbalanced quotes. */
static int shebang_word(const char **pp, const char *end, char *out, size_t *outlen)
{
    const char *p = *pp;
    while (p < end && isspace((unsigned char)*p))
        p++;
    if (p >= end)
        return 0;
    size_t n = 0;
    int quote = 0; /* 0, '"' or '\'' */
    for (;;) {
        if (quote == '"') {
            if (p >= end)
                return -1;
            if (*p == '\\' && p + 3 < end && p[1] == 'x' && isxdigit((unsigned char)p[2]) &&
                isxdigit((unsigned char)p[3])) {
                char hex[3] = {p[2], p[3], 0};
                out[n++] = (char)strtol(hex, NULL, 16);
                p += 4;
                continue;
            }
            if (*p == '\\' && p + 1 < end) {
                char c = p[1];
                out[n++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c == 'b' ? '\b' : c == 'a' ? '\a' : c;
                p += 2;
                continue;
            }
            if (*p == '"') {
                if (p + 1 < end && !isspace((unsigned char)p[1]))
                    return -1;
                quote = 0;
                p++;
                break;
            }
            out[n++] = *p++;
        } else if (quote == '\'') {
            if (p >= end)
                return -1;
            if (*p == '\\' && p + 1 < end && p[1] == '\'') {
                out[n++] = '\'';
                p += 2;
                continue;
            }
            if (*p == '\'') {
                if (p + 1 < end && !isspace((unsigned char)p[1]))
                    return -1;
                quote = 0;
                p++;
                break;
            }
            out[n++] = *p++;
        } else {
            if (p >= end || *p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == 0)
                break;
            if (*p == '"' || *p == '\'') {
                quote = *p++;
                continue;
            }
            out[n++] = *p++;
        }
    }
    out[n] = 0;
    *outlen = n;
    *pp = p;
    return 1;
}

/* flags=a,b,... as Redis splits it: empty means none, every comma splits. */
static bool shebang_flags(const char *list, size_t len, unsigned *flags, char *err, size_t errlen)
{
    const char *p = list, *end = list + len;
    while (len && p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        size_t n = (size_t)(stop - p);
        unsigned bit = 0;
        for (int i = 0; i < FN_NFLAGS && !bit; i++)
            if (strlen(fn_flag_names[i]) == n && memcmp(fn_flag_names[i], p, n) == 0)
                bit = 1u << i;
        if (!bit) {
            snprintf(err, errlen, "Unexpected flag in script shebang: %.*s", (int)(n > 200 ? 200 : n), p);
            return false;
        }
        *flags |= bit;
        p = stop + 1;
    }
    return true;
}

/* Redis's evalExtractShebangFlags: a body without "#!" runs in the legacy
 * mode (SCRIPT_COMPAT); "#!lua [flags=...]" declares its flags. *skip is the
 * shebang's length (its newline is kept so line numbers hold). On error
 * writes Redis's text (without "ERR ") into err. */
static bool shebang_parse(const char *body, size_t len, unsigned *flags, size_t *skip, char *err, size_t errlen)
{
    *flags = SCRIPT_COMPAT;
    *skip = 0;
    if (len < 2 || body[0] != '#' || body[1] != '!')
        return true;
    const char *nul = memchr(body, 0, len); /* Redis reads the body as a C string */
    const char *nl = memchr(body, '\n', nul ? (size_t)(nul - body) : len);
    if (!nl) {
        snprintf(err, errlen, "Invalid script shebang");
        return false;
    }
    const char *p = body, *end = nl;
    char *word = mi_malloc((size_t)(end - body) + 1);
    size_t wl;
    bool ok = true;
    int got = shebang_word(&p, end, word, &wl);
    if (got <= 0) {
        snprintf(err, errlen, "Invalid engine in script shebang");
        ok = false;
    } else if (strcmp(word, "#!lua") != 0) {
        snprintf(err, errlen, "Unexpected engine in script shebang: %.200s", word);
        ok = false;
    }
    unsigned f = 0;
    while (ok && (got = shebang_word(&p, end, word, &wl)) != 0) {
        if (got < 0) {
            snprintf(err, errlen, "Invalid engine in script shebang");
            ok = false;
        } else if (wl >= 6 && memcmp(word, "flags=", 6) == 0) {
            ok = shebang_flags(word + 6, wl - 6, &f, err, errlen);
        } else {
            snprintf(err, errlen, "Unknown lua shebang option: %.200s", word);
            ok = false;
        }
    }
    mi_free(word);
    if (ok) {
        *flags = f;
        *skip = (size_t)(nl - body);
    }
    return ok;
}

/* Compile body as f_<sha> in this thread's state and cache it. On failure
 * writes the error into r (when given) and returns false. */
static bool script_define(struct lstate *ls, const char *sha, const char *body, size_t len, struct reply *r)
{
    lua_State *L = ls->L;
    char fname[43] = "f_";
    memcpy(fname + 2, sha, 41);
    lua_getfield(L, LUA_REGISTRYINDEX, fname);
    bool have = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (have)
        return true;
    size_t skip = 0;
    unsigned flags = 0;
    char err[256];
    if (!shebang_parse(body, len, &flags, &skip, err, sizeof(err))) {
        if (r)
            reply_errorf(r, "ERR %s", err);
        return false;
    }
    if (len > skip && body[skip] == LUA_SIGNATURE[0]) {
        if (r)
            reply_error(r, "ERR Error compiling script (new function): user_script: attempt to load a binary chunk");
        return false;
    }
    if (luaL_loadbuffer(L, body + skip, len - skip, "@user_script")) {
        if (r)
            reply_errorf(r, "ERR Error compiling script (new function): %s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return false;
    }
    lua_setfield(L, LUA_REGISTRYINDEX, fname);
    if (!cache_find(ls, sha))
        cache_add(ls, sha, body, len, flags);
    return true;
}

/* ---------- running commands for redis.call on the right thread ---------- */

struct remote {
    struct msg m;
    _Atomic int *left;
    int kind;            /* R_CMD, R_HOP, R_FIND */
    /* R_CMD */
    const struct command *cmd;
    int db, resp;
    uint64_t client_id;
    int argc;
    struct arg *argv;
    int *keyidx;
    int nkeys;
    struct buf *out;
    /* R_HOP */
    struct mso *t;
    int part, hop;
    /* R_FIND */
    const char *sha;
    char *body;
    size_t len;
};

enum { R_CMD, R_HOP, R_FIND };

static void remote_run(struct worker *w, struct msg *m)
{
    struct remote *rm = (struct remote *)m;
    w->now_ms = mstime();
    if (rm->kind == R_CMD) {
        exec_command_here(w, rm->cmd, rm->db, rm->resp, rm->client_id, rm->argc, rm->argv, rm->keyidx, rm->nkeys,
                          rm->out);
    } else if (rm->kind == R_HOP) {
        mso_run_part(w, rm->t, rm->part, rm->hop);
    } else {
        struct sentry *e = tl_ls ? cache_find(tl_ls, rm->sha) : NULL;
        if (e) {
            rm->body = mi_malloc(e->len + 1);
            memcpy(rm->body, e->body, e->len + 1);
            rm->len = e->len;
        }
    }
    atomic_fetch_sub_explicit(rm->left, 1, memory_order_release);
}

/* Send now (not at the end of the loop iteration: this thread is about to
 * spin) and wake the target. */
static void send_now(struct worker *w, int to, struct msg *m) { worker_send_now(w, to, m); }

static void wait_all(_Atomic int *left)
{
    unsigned spins = 0;
    while (atomic_load_explicit(left, memory_order_acquire) > 0) {
        if (++spins > 1000)
            sched_yield();
#if defined(__x86_64__) || defined(__i386__)
        else
            __builtin_ia32_pause();
#endif
    }
}

static void run_whole_on(struct run *run, int owner, const struct command *cmd, int argc, struct arg *argv,
                         int *keyidx, int nkeys, struct buf *out, int resp)
{
    if (owner == run->w->id) {
        exec_command_here(run->w, cmd, run->db, resp, run->client_id, argc, argv, keyidx, nkeys, out);
        return;
    }
    _Atomic int left = 1;
    struct remote rm = {.left = &left, .kind = R_CMD, .cmd = cmd, .db = run->db, .resp = resp,
                        .client_id = run->client_id, .argc = argc, .argv = argv, .keyidx = keyidx,
                        .nkeys = nkeys, .out = out};
    rm.m.fn = remote_run;
    send_now(run->w, owner, &rm.m);
    wait_all(&left);
}

/* A command whose keys span threads (or a global one): its own mso, each hop
 * run on the owners while the script's operation holds every shard. */
static void run_sub_mso(struct run *run, const struct command *cmd, int argc, struct arg *argv, int *keyidx,
                        int nkeys, bool global, struct buf *out, int resp)
{
    struct worker *w = run->w;
    struct mso t = {
        .cmd = cmd,
        .ops = cmd->mso,
        .db = run->db,
        .resp = resp,
        .client_id = run->client_id,
        .argc = argc,
        .argv = argv,
        .coordinator = w->id,
    };
    t.parts = mi_zalloc(sizeof(struct mso_part) * (size_t)g_nworkers);
    int *idx = mi_malloc(sizeof(int) * (size_t)(nkeys ? nkeys : 1));
    if (global) {
        t.nparts = g_nworkers;
        for (int i = 0; i < g_nworkers; i++)
            t.parts[i].shard = i;
    } else {
        int partof[MAX_THREADS];
        for (int i = 0; i < g_nworkers; i++)
            partof[i] = -1;
        int *own = mi_malloc(sizeof(int) * (size_t)nkeys);
        int cnt[MAX_THREADS] = {0};
        for (int i = 0; i < nkeys; i++) {
            own[i] = g_slot_owner[arg_slot(&argv[keyidx[i]])];
            if (partof[own[i]] < 0) {
                partof[own[i]] = t.nparts;
                t.parts[t.nparts++].shard = own[i];
            }
            cnt[own[i]]++;
        }
        int pos = 0;
        for (int p = 0; p < t.nparts; p++) {
            t.parts[p].keyidx = idx + pos;
            pos += cnt[t.parts[p].shard];
        }
        for (int i = 0; i < nkeys; i++) {
            struct mso_part *pt = &t.parts[partof[own[i]]];
            pt->keyidx[pt->nkeys++] = keyidx[i];
        }
        mi_free(own);
    }
    for (int i = 0; i < t.nparts; i++)
        buf_init(&t.parts[i].out);
    uint64_t t0 = clock_ticks();
    struct remote *rms = mi_zalloc(sizeof(struct remote) * (size_t)t.nparts);
    for (int hop = 0; hop >= 0; hop = t.ops->next(&t, hop)) {
        _Atomic int left = 0;
        int self = -1;
        for (int p = 0; p < t.nparts; p++) {
            if (t.parts[p].shard == w->id) {
                self = p;
                continue;
            }
            atomic_fetch_add(&left, 1);
            rms[p] = (struct remote){.left = &left, .kind = R_HOP, .t = &t, .part = p, .hop = hop};
            rms[p].m.fn = remote_run;
            send_now(w, t.parts[p].shard, &rms[p].m);
        }
        if (self >= 0) {
            _Atomic int one = 1;
            struct remote rm = {.left = &one, .kind = R_HOP, .t = &t, .part = self, .hop = hop};
            remote_run(w, &rm.m);
        }
        wait_all(&left);
    }
    mi_free(rms);
    struct reply r = {out, resp};
    size_t start = out->len;
    t.ops->reply(&t, &r);
    stats_after_command(w, cmd, out, start, ticks_to_nsec(clock_ticks() - t0));
    persist_after_command(w, cmd, out, start);
    for (int i = 0; i < t.nparts; i++) {
        buf_free(&t.parts[i].out);
        mi_free(t.parts[i].data);
    }
    buf_free(&t.scratch);
    mi_free(t.state);
    mi_free(t.parts);
    mi_free(idx);
}

#define KILLED_MSG "Script killed by user with SCRIPT KILL..."

/* Cluster mode, a script without allow-cross-slot-keys (Redis's
 * scriptVerifyClusterState): every key it touches, declared or not, must
 * hash to one slot. */
static bool script_one_slot(struct run *run, const struct command *cmd, int argc, struct arg *argv)
{
    int keystack[64];
    int *keys = argc <= 64 ? keystack : mi_malloc(sizeof(int) * (size_t)argc);
    int nkeys = command_keys(cmd, argv, argc, keys, argc);
    bool ok = true;
    for (int i = 0; i < nkeys && ok; i++) {
        int slot = (int)arg_slot(&argv[keys[i]]);
        if (run->slot < 0)
            run->slot = slot;
        ok = run->slot == slot;
    }
    if (keys != keystack)
        mi_free(keys);
    return ok;
}

/* Run one command of a script into out (a RESP reply in `resp`). Returns an
 * error text (Redis's scriptCall rejections) or NULL. */
static const char *script_exec(struct run *run, int argc, struct arg *argv, struct buf *out)
{
    const char *err = NULL;
    const struct command *cmd = command_lookup(argv, argc, &err);
    if (!cmd) {
        const struct command *known = command_find(argv[0].p, argv[0].len);
        if (known && (!known->subcmds || argc < 2 || command_find_sub(known, argv[1].p, argv[1].len)))
            return "Wrong number of args calling Redis command from script";
        return "Unknown Redis command called from script";
    }
    if (cmd->flags & CMD_NOSCRIPT)
        return "This Redis command is not allowed from script";
    if (run->ro && (cmd->flags & CMD_WRITE))
        return "Write commands are not allowed from read-only scripts.";
    if ((cmd->flags & CMD_WRITE) && !busy_script_write(run->w)) {
        run->killed = true; /* SCRIPT KILL came before the first write: it wins */
        return KILLED_MSG;
    }
    if (run->one_slot && !script_one_slot(run, cmd, argc, argv))
        return "Script attempted to access keys that do not hash to the same slot";
    run->read_called |= (cmd->flags & CMD_READONLY) != 0; /* tracking */
    if (!(cmd->flags & (CMD_ADMIN | CMD_SKIP_MONITOR)))
        monitor_feed(run->w, NULL, run->db, argc, argv); /* monitor: "[db lua]" */
    int resp = run->lua_resp;
    if (cmd->flags & CMD_CONN) {
        if (strcmp(cmd->name, "select") == 0) {
            long long db;
            if (!arg_to_ll(&argv[1], &db)) {
                struct reply r = {out, resp};
                reply_error(&r, "ERR value is not an integer or out of range");
            } else if (db < 0 || db >= run->w->cfg.databases) {
                struct reply r = {out, resp};
                reply_error(&r, "ERR DB index is out of range");
            } else {
                run->db = (int)db;
                struct reply r = {out, resp};
                reply_ok(&r);
            }
            return NULL;
        }
        if (strcmp(cmd->name, "ping") && strcmp(cmd->name, "echo") && strcmp(cmd->name, "time"))
            return "This Redis command is not allowed from script";
        run_whole_on(run, run->w->id, cmd, argc, argv, NULL, 0, out, resp);
        return NULL;
    }
    if (cmd->route) {
        run_whole_on(run, cmd->route(argv, argc), cmd, argc, argv, NULL, 0, out, resp);
        return NULL;
    }
    bool global = (cmd->flags & CMD_GLOBAL) || (cmd->mso && cmd->mso->global);
    if (global) {
        if (g_nworkers == 1 || !cmd->mso)
            run_whole_on(run, run->w->id, cmd, argc, argv, NULL, 0, out, resp);
        else
            run_sub_mso(run, cmd, argc, argv, NULL, 0, true, out, resp);
        return NULL;
    }
    int keystack[64];
    int *keys = argc <= 64 ? keystack : mi_malloc(sizeof(int) * (size_t)argc);
    int nkeys = command_keys(cmd, argv, argc, keys, argc);
    if (nkeys <= 0) {
        run_whole_on(run, run->w->id, cmd, argc, argv, NULL, 0, out, resp);
    } else {
        int owner = g_slot_owner[arg_slot(&argv[keys[0]])];
        bool same = true;
        for (int i = 1; i < nkeys && same; i++)
            same = g_slot_owner[arg_slot(&argv[keys[i]])] == owner;
        if (same || !cmd->mso)
            run_whole_on(run, owner, cmd, argc, argv, keys, nkeys, out, resp);
        else
            run_sub_mso(run, cmd, argc, argv, keys, nkeys, false, out, resp);
    }
    if (keys != keystack)
        mi_free(keys);
    return NULL;
}

/* ---------- RESP -> Lua ---------- */

static const char *resp_line_end(const char *p, const char *end)
{
    const char *q = memchr(p, '\r', (size_t)(end - p));
    return q ? q : end;
}

static const char *resp_to_lua(lua_State *L, const char *p, const char *end);

static const char *push_aggregate_array(lua_State *L, const char *p, const char *end, long long n)
{
    lua_newtable(L);
    for (long long i = 1; i <= n; i++) {
        lua_pushnumber(L, (lua_Number)i);
        p = resp_to_lua(L, p, end);
        lua_settable(L, -3);
    }
    return p;
}

static const char *resp_to_lua(lua_State *L, const char *p, const char *end)
{
    lua_checkstack(L, 8);
    char type = *p++;
    const char *le = resp_line_end(p, end);
    const char *next = le + 2 <= end ? le + 2 : end;
    switch (type) {
    case ':': {
        long long v = strtoll(p, NULL, 10);
        lua_pushnumber(L, (lua_Number)v);
        return next;
    }
    case '$':
    case '=': {
        long long n = strtoll(p, NULL, 10);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        if (type == '=') {
            lua_newtable(L);
            lua_pushstring(L, "verbatim_string");
            lua_newtable(L);
            lua_pushstring(L, "string");
            lua_pushlstring(L, next + 4, (size_t)(n > 4 ? n - 4 : 0));
            lua_settable(L, -3);
            lua_pushstring(L, "format");
            lua_pushlstring(L, next, 3);
            lua_settable(L, -3);
            lua_settable(L, -3);
        } else {
            lua_pushlstring(L, next, (size_t)n);
        }
        return next + n + 2;
    }
    case '+':
    case '-':
        lua_newtable(L);
        lua_pushstring(L, type == '+' ? "ok" : "err");
        lua_pushlstring(L, p, (size_t)(le - p));
        lua_settable(L, -3);
        return next;
    case '*':
    case '>': {
        long long n = strtoll(p, NULL, 10);
        if (n < 0) {
            lua_pushboolean(L, 0);
            return next;
        }
        return push_aggregate_array(L, next, end, n);
    }
    case '%':
    case '~': {
        long long n = strtoll(p, NULL, 10);
        lua_newtable(L);
        lua_pushstring(L, type == '%' ? "map" : "set");
        lua_newtable(L);
        p = next;
        for (long long i = 0; i < n; i++) {
            p = resp_to_lua(L, p, end);
            if (type == '%')
                p = resp_to_lua(L, p, end);
            else
                lua_pushboolean(L, 1);
            lua_settable(L, -3);
        }
        lua_settable(L, -3);
        return p;
    }
    case '_':
        lua_pushnil(L);
        return next;
    case '#':
        lua_pushboolean(L, *p == 't');
        return next;
    case ',': {
        lua_newtable(L);
        lua_pushstring(L, "double");
        char tmp[64];
        size_t n = (size_t)(le - p) < sizeof(tmp) - 1 ? (size_t)(le - p) : sizeof(tmp) - 1;
        memcpy(tmp, p, n);
        tmp[n] = 0;
        lua_pushnumber(L, strtod(tmp, NULL));
        lua_settable(L, -3);
        return next;
    }
    case '(':
        lua_newtable(L);
        lua_pushstring(L, "big_number");
        lua_pushlstring(L, p, (size_t)(le - p));
        lua_settable(L, -3);
        return next;
    default:
        lua_pushboolean(L, 0);
        return end;
    }
}

/* ---------- redis.call / redis.pcall ---------- */

static int generic_call(lua_State *L, bool raise)
{
    struct run *run = tl_run;
    if (!run)
        return raise_msg(L, "redis.call/pcall can only be called inside a script invocation");
    int argc = lua_gettop(L);
    if (argc == 0) {
        push_error(L, "Please specify at least one argument for this redis lib call", 60);
        return raise ? lua_error(L) : 1;
    }
    struct arg stack[16];
    struct arg *argv = argc <= 16 ? stack : mi_malloc(sizeof(struct arg) * (size_t)argc);
    char numbuf[16][32];
    char (*nums)[32] = argc <= 16 ? numbuf : mi_malloc(32 * (size_t)argc);
    for (int j = 0; j < argc; j++) {
        int t = lua_type(L, j + 1);
        if (t == LUA_TNUMBER) {
            lua_Number num = lua_tonumber(L, j + 1);
            int n;
            if (num == floor(num) && fabs(num) < 1e17)
                n = snprintf(nums[j], 32, "%lld", (long long)num);
            else
                n = snprintf(nums[j], 32, "%.17g", (double)num);
            argv[j] = (struct arg){nums[j], (size_t)n};
        } else if (t == LUA_TSTRING) {
            size_t len;
            const char *s = lua_tolstring(L, j + 1, &len);
            argv[j] = (struct arg){s, len};
        } else {
            if (argv != stack)
                mi_free(argv);
            if (nums != numbuf)
                mi_free(nums);
            push_error(L, "Lua redis lib command arguments must be strings or integers", 59);
            return raise ? lua_error(L) : 1;
        }
    }
    struct buf out;
    buf_init(&out);
    const char *err = script_exec(run, argc, argv, &out);
    if (argv != stack)
        mi_free(argv);
    if (nums != numbuf)
        mi_free(nums);
    if (err) {
        buf_free(&out);
        push_error(L, err, strlen(err));
        if (run->killed)
            return lua_error(L); /* even from redis.pcall */
        lua_pushstring(L, "ignore_error_stats_update");
        lua_pushboolean(L, 1);
        lua_settable(L, -3);
        return raise ? lua_error(L) : 1;
    }
    bool is_err = out.len && out.data[0] == '-';
    if (out.len)
        resp_to_lua(L, out.data, out.data + out.len);
    else
        lua_pushboolean(L, 0);
    buf_free(&out);
    if (is_err && raise)
        return lua_error(L);
    return 1;
}

static int l_redis_call(lua_State *L) { return generic_call(L, true); }
static int l_redis_pcall(lua_State *L) { return generic_call(L, false); }

/* ---------- Lua -> RESP ---------- */

/* Push t[name] (raw access, t on top) when it has Lua type `type`; else push nothing. */
static bool push_field(lua_State *L, const char *name, int type)
{
    lua_pushstring(L, name);
    lua_rawget(L, -2);
    if (lua_type(L, -1) == type)
        return true;
    lua_pop(L, 1);
    return false;
}

/* Append the string on top of the stack with CR/LF turned into spaces (a
 * line protocol cannot carry them), then pop it. */
static void put_single_line(lua_State *L, struct buf *b)
{
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    for (size_t i = 0; i < n; i++)
        buf_appendc(b, (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i]);
    lua_pop(L, 1);
}

static void lua_to_resp(lua_State *L, struct reply *r, int lua_resp);

/* The values of table t[k] for every key (as a set) or every pair (as a map). */
static void pairs_to_resp(lua_State *L, struct reply *r, int lua_resp, bool as_map)
{
    struct buf tmp;
    buf_init(&tmp);
    struct reply tr = {&tmp, r->resp};
    int64_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (as_map) {
            lua_pushvalue(L, -2);
            lua_to_resp(L, &tr, lua_resp); /* key */
            lua_to_resp(L, &tr, lua_resp); /* value */
        } else {
            lua_pop(L, 1);
            lua_pushvalue(L, -1);
            lua_to_resp(L, &tr, lua_resp);
        }
        n++;
    }
    if (as_map)
        reply_map(r, n);
    else
        reply_set(r, n);
    reply_raw(r, tmp.data, tmp.len);
    buf_free(&tmp);
}

/* A Lua table (on top of the stack, left there) as a reply, the way Redis
 * reads it: {err=}, {ok=}, {double=}, {big_number=}, {verbatim_string=},
 * {map=}, {set=}, else an array up to the first nil. */
static void table_to_resp(lua_State *L, struct reply *r, int lua_resp)
{
    if (push_field(L, "err", LUA_TSTRING)) {
        buf_appendc(r->b, '-'); /* no ERR prefix added */
        put_single_line(L, r->b);
        buf_append(r->b, "\r\n", 2);
        return;
    }
    if (push_field(L, "ok", LUA_TSTRING)) {
        buf_appendc(r->b, '+');
        put_single_line(L, r->b);
        buf_append(r->b, "\r\n", 2);
        return;
    }
    if (push_field(L, "double", LUA_TNUMBER)) {
        reply_double(r, lua_tonumber(L, -1));
        lua_pop(L, 1);
        return;
    }
    if (push_field(L, "big_number", LUA_TSTRING)) {
        struct buf num;
        buf_init(&num);
        put_single_line(L, &num);
        reply_bignum(r, num.data ? num.data : "", num.len);
        buf_free(&num);
        return;
    }
    if (push_field(L, "verbatim_string", LUA_TTABLE)) {
        lua_getfield(L, -1, "format");
        lua_getfield(L, -2, "string");
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            reply_verbatim(r, s, n, lua_tostring(L, -2));
            lua_pop(L, 3);
            return;
        }
        lua_pop(L, 3);
    }
    bool as_map = push_field(L, "map", LUA_TTABLE);
    if (as_map || push_field(L, "set", LUA_TTABLE)) {
        pairs_to_resp(L, r, lua_resp, as_map);
        lua_pop(L, 1);
        return;
    }
    struct buf tmp;
    buf_init(&tmp);
    struct reply tr = {&tmp, r->resp};
    int64_t n = 0;
    for (int j = 1;; j++) {
        lua_pushnumber(L, j);
        lua_rawget(L, -2);
        if (lua_type(L, -1) == LUA_TNIL) {
            lua_pop(L, 1);
            break;
        }
        lua_to_resp(L, &tr, lua_resp);
        n++;
    }
    reply_array(r, n);
    reply_raw(r, tmp.data, tmp.len);
    buf_free(&tmp);
}

static void lua_to_resp(lua_State *L, struct reply *r, int lua_resp)
{
    if (!lua_checkstack(L, 4)) {
        reply_error(r, "ERR reached lua stack limit");
        lua_pop(L, 1);
        return;
    }
    int t = lua_type(L, -1);
    switch (t) {
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, -1, &n);
        reply_bulk(r, s, n);
        break;
    }
    case LUA_TBOOLEAN:
        if (lua_resp == 2) {
            if (lua_toboolean(L, -1))
                reply_int(r, 1);
            else
                reply_null(r);
        } else {
            reply_bool(r, lua_toboolean(L, -1));
        }
        break;
    case LUA_TNUMBER:
        reply_int(r, (int64_t)(long long)lua_tonumber(L, -1));
        break;
    case LUA_TTABLE:
        table_to_resp(L, r, lua_resp);
        break;
    default:
        reply_null(r);
    }
    lua_pop(L, 1);
}

/* ---------- EVAL ---------- */

static int eval_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    long long n;
    if (argc < 3 || !arg_to_ll(&argv[2], &n) || n < 0 || n > argc - 3)
        return 0;
    int k = 0;
    for (int i = 3; i < 3 + n && k < max; i++)
        keys[k++] = i;
    return k;
}

static void push_string_array(lua_State *L, const struct arg *a, int n)
{
    lua_newtable(L);
    for (int i = 0; i < n; i++) {
        lua_pushlstring(L, a[i].p, a[i].len);
        lua_rawseti(L, -2, i + 1);
    }
}

static void set_array_global(lua_State *L, const char *name, struct arg *a, int n)
{
    push_string_array(L, a, n);
    lua_pushstring(L, name);
    lua_insert(L, -2);
    lua_rawset(L, LUA_GLOBALSINDEX);
}

/* Ask the other threads for a script body (they are all held by our op). */
static bool fetch_remote_body(struct worker *w, const char *sha, char **body, size_t *len)
{
    for (int i = 0; i < g_nworkers; i++) {
        if (i == w->id)
            continue;
        _Atomic int left = 1;
        struct remote rm = {.left = &left, .kind = R_FIND, .sha = sha};
        rm.m.fn = remote_run;
        send_now(w, i, &rm.m);
        wait_all(&left);
        if (rm.body) {
            *body = rm.body;
            *len = rm.len;
            return true;
        }
    }
    return false;
}

/* Redis's scriptPrepareForRun checks for a script that declared its flags
 * (a legacy script only runs read-only under EVAL_RO / EVALSHA_RO). */
static bool eval_flags_allow(struct worker *w, unsigned flags, bool *ro, struct reply *r)
{
    if (flags & SCRIPT_COMPAT)
        return true;
    if ((flags & FN_NO_CLUSTER) && w->cfg.cluster_enabled) {
        reply_error(r, "ERR Can not run script on cluster, 'no-cluster' flag is set.");
        return false;
    }
    if (!(flags & FN_NO_WRITES) && *ro) {
        reply_error(r, "ERR Can not execute a script with write flag using *_ro command.");
        return false;
    }
    *ro = (flags & FN_NO_WRITES) != 0;
    return true;
}

/* The whole script on this (the coordinator) thread; every shard is held. */
static void eval_run(struct worker *w, struct mso *t, struct reply *r)
{
    const struct arg *argv = t->argv;
    int argc = t->argc;
    bool evalsha = argv[0].len >= 7 && strncasecmp(argv[0].p, "evalsha", 7) == 0;
    bool ro = argv[0].len > 3 && strncasecmp(argv[0].p + argv[0].len - 3, "_ro", 3) == 0;
    long long numkeys;
    if (!arg_to_ll(&argv[2], &numkeys)) {
        reply_error(r, "ERR value is not an integer or out of range");
        return;
    }
    if (numkeys > argc - 3) {
        reply_error(r, "ERR Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        reply_error(r, "ERR Number of keys can't be negative");
        return;
    }
    struct lstate *ls = ls_get();
    char sha[41];
    if (evalsha) {
        if (argv[1].len != 40) {
            reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        for (int i = 0; i < 40; i++)
            sha[i] = (char)tolower((unsigned char)argv[1].p[i]);
        sha[40] = 0;
        if (!cache_find(ls, sha)) {
            char *body;
            size_t len;
            if (!fetch_remote_body(w, sha, &body, &len)) {
                reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
                return;
            }
            bool ok = script_define(ls, sha, body, len, r);
            mi_free(body);
            if (!ok)
                return;
        }
    } else {
        script_sha1hex(sha, argv[1].p, argv[1].len);
        if (!script_define(ls, sha, argv[1].p, argv[1].len, r))
            return;
    }
    lua_State *L = ls->L;
    char fname[43] = "f_";
    memcpy(fname + 2, sha, 41);
    lua_getglobal(L, "__redis__err__handler");
    lua_getfield(L, LUA_REGISTRYINDEX, fname);
    if (lua_isnil(L, -1)) {
        /* compiled in a state since flushed: recompile from the cache */
        lua_pop(L, 1);
        struct sentry *e = cache_find(ls, sha);
        if (!e || !script_define(ls, sha, e->body, e->len, r)) {
            lua_pop(L, 1);
            if (!e)
                reply_error(r, "NOSCRIPT No matching script. Please use EVAL.");
            return;
        }
        lua_getfield(L, LUA_REGISTRYINDEX, fname);
    }
    struct sentry *e = cache_find(ls, sha);
    unsigned flags = e ? e->flags : SCRIPT_COMPAT;
    if (!eval_flags_allow(w, flags, &ro, r)) {
        lua_pop(L, 2);
        return;
    }
    script_invoke(w, t, L, sha, false, ro, flags & (SCRIPT_COMPAT | FN_ALLOW_CROSS_SLOT), r);
}

/* Lua instructions between two looks at the clock / kill flag (Redis's value). */
#define HOOK_EVERY 100000

/* The count hook: past busy-reply-threshold the thread answers -BUSY and
 * serves its clients from here (busy.c); a kill request (or SHUTDOWN NOSAVE)
 * raises an error on every line from then on, so pcall cannot swallow it. */
static void count_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    struct run *run = tl_run;
    if (!run)
        return;
    if (!run->killed && busy_script_tick(run->w)) {
        run->killed = true;
        serverlog(LL_WARNING, "Lua script killed by user with SCRIPT KILL.");
        lua_sethook(L, count_hook, LUA_MASKLINE, 0);
    }
    if (run->killed) {
        push_error(L, KILLED_MSG, strlen(KILLED_MSG));
        lua_error(L);
    }
}

/* Stack: [error handler, function]. Runs the function with KEYS/ARGV as
 * globals (EVAL) or as its two arguments (FCALL), writes its reply or error
 * into r and pops both. t->argv is "<cmd> <name> <numkeys> keys... args...",
 * numkeys already checked. */
void script_invoke(struct worker *w, struct mso *t, lua_State *L, const char *name, bool fn_args, bool ro,
                   bool cross_slot, struct reply *r)
{
    long long numkeys = 0;
    arg_to_ll(&t->argv[2], &numkeys);
    struct arg *keys = (struct arg *)t->argv + 3, *args = keys + numkeys;
    int nargs = t->argc - 3 - (int)numkeys;
    if (fn_args) {
        push_string_array(L, keys, (int)numkeys);
        push_string_array(L, args, nargs);
    } else {
        set_array_global(L, "KEYS", keys, (int)numkeys);
        set_array_global(L, "ARGV", args, nargs);
    }
    struct run run = {.w = w, .db = t->db, .client_resp = t->resp, .lua_resp = 2, .client_id = t->client_id,
                      .ro = ro, .name = name, .argc = t->argc, .argv = t->argv,
                      .one_slot = !cross_slot && w->cfg.cluster_enabled,
                      .slot = numkeys > 0 ? (int)arg_slot(&keys[0]) : -1};
    run_begin(&run);
    busy_script_begin(w, !fn_args, name, t->argc, t->argv);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, HOOK_EVERY);
    int err = lua_pcall(L, fn_args ? 2 : 0, 1, -2 - (fn_args ? 2 : 0));
    lua_sethook(L, NULL, 0, 0);
    busy_script_end(w);
    run_end(&run);
    if (run.read_called && t->track) /* tracking: as Redis, a script that reads remembers its declared keys */
        tracking_remember_remote(w, t->track, t->client_id, keys, (int)numkeys);
    static _Thread_local long gc_count;
    if (++gc_count == 50) {
        lua_gc(L, LUA_GCSTEP, 50);
        gc_count = 0;
    }
    if (err) {
        if (!lua_istable(L, -1)) {
            const char *msg = lua_isstring(L, -1) ? lua_tostring(L, -1) : "execution failure";
            reply_errorf(r, "ERR Error running script %s, %.100s", name, msg);
        } else {
            lua_getfield(L, -1, "err");
            lua_getfield(L, -2, "source");
            lua_getfield(L, -3, "line");
            const char *msg = lua_tostring(L, -3);
            const char *src = lua_tostring(L, -2);
            const char *line = lua_tostring(L, -1);
            char *full = NULL;
            size_t flen = 0;
            FILE *f = open_memstream(&full, &flen);
            fprintf(f, "%s", msg ? msg : "");
            if (src && line)
                fprintf(f, " script: %s, on %s:%s.", name, src, line);
            fclose(f);
            for (size_t i = 0; i < flen; i++)
                if (full[i] == '\r' || full[i] == '\n')
                    full[i] = ' ';
            reply_error(r, flen && full[0] == '-' ? full + 1 : full);
            free(full);
            lua_pop(L, 3);
        }
        lua_pop(L, 2); /* error, handler */
        return;
    }
    lua_to_resp(L, r, run.lua_resp);
    lua_pop(L, 1); /* handler */
}

static void eval_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)c;
    (void)t;
    (void)part;
    (void)hop; /* a barrier: every shard holds the operation from here */
}

static int eval_next(struct mso *t, int hop)
{
    if (hop == 0) {
        struct worker *w = worker_self();
        w->now_ms = mstime();
        struct reply r = {&t->scratch, t->resp};
        eval_run(w, t, &r);
    }
    return -1;
}

static void eval_reply(struct mso *t, struct reply *r)
{
    if (r)
        reply_raw(r, t->scratch.data, t->scratch.len);
}

static const struct mso_ops eval_ops = {.hop = eval_hop, .next = eval_next, .reply = eval_reply, .global = true,
                                        .yields = true};

/* ---------- SCRIPT ---------- */

static void cmd_script_load(struct cmd_ctx *c)
{
    struct lstate *ls = ls_get();
    char sha[41];
    script_sha1hex(sha, c->argv[2].p, c->argv[2].len);
    if (!script_define(ls, sha, c->argv[2].p, c->argv[2].len, &c->r))
        return;
    reply_bulk(&c->r, sha, 40);
}

static void exists_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)hop;
    int n = t->argc - 2;
    char *found = mi_zalloc((size_t)n + 1);
    for (int i = 0; i < n; i++) {
        const struct arg *a = &c->argv[2 + i];
        if (a->len != 40 || !tl_ls)
            continue;
        char sha[41];
        for (int k = 0; k < 40; k++)
            sha[k] = (char)tolower((unsigned char)a->p[k]);
        sha[40] = 0;
        found[i] = cache_find(tl_ls, sha) != NULL;
    }
    t->parts[part].data = found;
}

static void exists_reply(struct mso *t, struct reply *r)
{
    int n = t->argc - 2;
    reply_array(r, n);
    for (int i = 0; i < n; i++) {
        bool any = false;
        for (int p = 0; p < t->nparts && !any; p++)
            any = t->parts[p].data && ((char *)t->parts[p].data)[i];
        reply_int(r, any);
    }
}

static const struct mso_ops exists_ops = {.hop = exists_hop, .next = mso_one_hop, .reply = exists_reply, .global = true};

static void flush_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)c;
    (void)t;
    (void)part;
    (void)hop;
    ls_flush();
}

static void flush_reply(struct mso *t, struct reply *r)
{
    if (t->argc == 3 && !arg_eq(&t->argv[2], "async") && !arg_eq(&t->argv[2], "sync")) {
        reply_error(r, "ERR SCRIPT FLUSH only support SYNC|ASYNC option");
        return;
    }
    reply_ok(r);
}

static void flush_hop_checked(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    if (t->argc == 3 && !arg_eq(&t->argv[2], "async") && !arg_eq(&t->argv[2], "sync"))
        return;
    flush_hop(c, t, part, hop);
}

static const struct mso_ops flush_ops = {.hop = flush_hop_checked, .next = mso_one_hop, .reply = flush_reply, .global = true};

static void cmd_script_kill(struct cmd_ctx *c) { busy_kill(c, true); }

static void cmd_script_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    };
    int n = (int)(sizeof(lines) / sizeof(lines[0]));
    reply_array(&c->r, n);
    for (int i = 0; i < n; i++)
        reply_status(&c->r, lines[i]);
}

static void cmd_script_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

static void cmd_eval_unused(struct cmd_ctx *c) { (void)c; }

#define S_FLAGS (CMD_NOSCRIPT | CMD_MOVABLE_KEYS | CMD_GLOBAL | CMD_MAY_REPLICATE)

static const struct command script_subcommands[] = {
    {"script|load", 3, CMD_NOSCRIPT | CMD_STALE, 0, 0, 0, cmd_script_load, .group = "scripting", .summary = "Load the specified Lua script into the script cache", .since = "2.6.0", .complexity = "O(N) with N being the length in bytes of the script body.", .acl = "slow scripting"},
    {"script|exists", -3, CMD_NOSCRIPT | CMD_GLOBAL, 0, 0, 0, cmd_eval_unused, .mso = &exists_ops, .group = "scripting", .summary = "Check existence of scripts in the script cache", .since = "2.6.0", .complexity = "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).", .acl = "slow scripting"},
    {"script|flush", -2, CMD_NOSCRIPT | CMD_GLOBAL, 0, 0, 0, cmd_eval_unused, .mso = &flush_ops, .group = "scripting", .summary = "Remove all the scripts from the script cache", .since = "2.6.0", .complexity = "O(N) with N being the number of scripts in cache", .acl = "slow scripting"},
    {"script|kill", 2, CMD_NOSCRIPT | CMD_ALLOW_BUSY, 0, 0, 0, cmd_script_kill, .group = "scripting", .summary = "Kill the script currently in execution", .since = "2.6.0", .complexity = "O(1)", .acl = "slow scripting"},
    {"script|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_script_help, .group = "scripting", .summary = "Show helpful text about the different subcommands", .since = "5.0.0", .complexity = "O(1)", .acl = "slow scripting"},
    {NULL},
};

const struct command script_commands[] = {
    {"eval", -3, S_FLAGS | CMD_SKIP_MONITOR, 0, 0, 0, cmd_eval_unused, .mso = &eval_ops, .getkeys = eval_getkeys, .group = "scripting", .summary = "Execute a Lua script server side", .since = "2.6.0", .complexity = "Depends on the script that is executed.", .acl = "slow scripting"},
    {"evalsha", -3, S_FLAGS | CMD_SKIP_MONITOR, 0, 0, 0, cmd_eval_unused, .mso = &eval_ops, .getkeys = eval_getkeys, .group = "scripting", .summary = "Execute a Lua script server side", .since = "2.6.0", .complexity = "Depends on the script that is executed.", .acl = "slow scripting"},
    {"eval_ro", -3, S_FLAGS | CMD_SKIP_MONITOR | CMD_READONLY, 0, 0, 0, cmd_eval_unused, .mso = &eval_ops, .getkeys = eval_getkeys, .group = "scripting", .summary = "Execute a read-only Lua script server side", .since = "7.0.0", .complexity = "Depends on the script that is executed.", .acl = "slow scripting"},
    {"evalsha_ro", -3, S_FLAGS | CMD_SKIP_MONITOR | CMD_READONLY, 0, 0, 0, cmd_eval_unused, .mso = &eval_ops, .getkeys = eval_getkeys, .group = "scripting", .summary = "Execute a read-only Lua script server side", .since = "7.0.0", .complexity = "Depends on the script that is executed.", .acl = "slow scripting"},
    {"script", -2, 0, 0, 0, 0, cmd_script_arity, .subcmds = script_subcommands, .group = "scripting", .summary = "A container for Lua scripts management commands", .since = "2.6.0", .acl = "slow"},
    {NULL},
};
