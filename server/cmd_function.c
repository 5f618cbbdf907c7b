/* server/cmd_function.c — family: FUNCTION (LOAD DELETE FLUSH RESTORE LIST
 * DUMP STATS KILL HELP), FCALL, FCALL_RO.
 *
 * Changes to the libraries are GLOBAL operations: hop 0 is a barrier on
 * every shard, the coordinator then builds the new library set from its
 * current one (`next` after hop 0) and hop 1 installs a reference to it on
 * every shard, so every thread sees the same libraries once the command
 * replies. Reads (LIST, DUMP, STATS) use the connection thread's set. FCALL
 * runs like EVAL: a global operation whose coordinator runs the function
 * while every shard holds it (see cmd_script.c).
 *
 * Owns: the FUNCTION and FCALL commands. Must not touch keyspace data. */
#include "server/busy.h"
#include "server/server.h"
#include "server/function.h"
#include "server/glob.h"
#include "server/script.h"

#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

/* The coordinator's result, kept until the reply. */
struct fn_change {
    struct fn_set *set; /* to install (NULL: nothing changes) */
    char reply[300];    /* a bulk string (LOAD's name) or "" for +OK */
    char err[600];      /* Redis's text with its code, or "" */
};

static struct fn_change *change_of(struct mso *t)
{
    if (!t->state)
        t->state = mi_zalloc(sizeof(struct fn_change));
    return t->state;
}

/* ---------- building the new set (coordinator, every shard held) ---------- */

static void build_load(struct mso *t, struct fn_change *ch)
{
    bool replace = false;
    int pos = 2;
    while (pos < t->argc - 1) {
        const struct arg *a = &t->argv[pos++];
        if (arg_eq(a, "replace")) {
            replace = true;
            continue;
        }
        snprintf(ch->err, sizeof(ch->err), "ERR Unknown option given: %.*s", (int)a->len, a->p);
        return;
    }
    if (pos >= t->argc) {
        snprintf(ch->err, sizeof(ch->err), "ERR Function code is missing");
        return;
    }
    struct fn_set *s = fn_set_copy(fn_current());
    char err[512];
    if (!fn_set_load(s, t->argv[pos].p, t->argv[pos].len, replace, 500, ch->reply, sizeof(ch->reply), err,
                     sizeof(err))) {
        snprintf(ch->err, sizeof(ch->err), "ERR %s", err);
        fn_set_unref(s);
        return;
    }
    ch->set = s;
}

static void build_delete(struct mso *t, struct fn_change *ch)
{
    const struct fn_set *cur = fn_current();
    int idx = fn_set_find_lib(cur, t->argv[2].p, t->argv[2].len);
    if (idx < 0) {
        snprintf(ch->err, sizeof(ch->err), "ERR Library not found");
        return;
    }
    ch->set = fn_set_copy(cur);
    fn_set_remove(ch->set, idx);
}

static void build_flush(struct mso *t, struct fn_change *ch)
{
    if (t->argc > 3) {
        snprintf(ch->err, sizeof(ch->err),
                 "ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.");
        return;
    }
    if (t->argc == 3 && !arg_eq(&t->argv[2], "sync") && !arg_eq(&t->argv[2], "async")) {
        snprintf(ch->err, sizeof(ch->err), "ERR FUNCTION FLUSH only supports SYNC|ASYNC option");
        return;
    }
    ch->set = fn_set_copy(NULL);
}

static void build_restore(struct mso *t, struct fn_change *ch)
{
    if (t->argc > 4) {
        snprintf(ch->err, sizeof(ch->err),
                 "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.");
        return;
    }
    enum { APPEND, REPLACE, FLUSH } policy = APPEND;
    if (t->argc == 4) {
        if (arg_eq(&t->argv[3], "append"))
            policy = APPEND;
        else if (arg_eq(&t->argv[3], "replace"))
            policy = REPLACE;
        else if (arg_eq(&t->argv[3], "flush"))
            policy = FLUSH;
        else {
            snprintf(ch->err, sizeof(ch->err),
                     "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.");
            return;
        }
    }
    char err[512];
    struct fn_set *loaded = fn_restore_payload(t->argv[2].p, t->argv[2].len, err, sizeof(err));
    if (!loaded) {
        snprintf(ch->err, sizeof(ch->err), "ERR %s", err);
        return;
    }
    if (policy == FLUSH) {
        ch->set = loaded;
        return;
    }
    struct fn_set *s = fn_set_copy(fn_current());
    if (!fn_set_join(s, loaded, policy == REPLACE, err, sizeof(err))) {
        snprintf(ch->err, sizeof(ch->err), "ERR %s", err);
        fn_set_unref(s);
        fn_set_unref(loaded);
        return;
    }
    fn_set_unref(loaded);
    ch->set = s;
}

static void change_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)c;
    (void)part;
    if (hop == 1)
        fn_install(fn_set_ref(((struct fn_change *)t->state)->set));
}

static int change_next(struct mso *t, int hop)
{
    if (hop != 0)
        return -1;
    struct fn_change *ch = change_of(t);
    const char *sub = t->cmd->name + strlen("function|");
    if (strcmp(sub, "load") == 0)
        build_load(t, ch);
    else if (strcmp(sub, "delete") == 0)
        build_delete(t, ch);
    else if (strcmp(sub, "flush") == 0)
        build_flush(t, ch);
    else
        build_restore(t, ch);
    return ch->set ? 1 : -1;
}

static void change_reply(struct mso *t, struct reply *r)
{
    struct fn_change *ch = change_of(t);
    if (r) {
        if (ch->err[0])
            reply_error(r, ch->err);
        else if (ch->reply[0])
            reply_bulkz(r, ch->reply);
        else
            reply_ok(r);
    }
    fn_set_unref(ch->set);
    ch->set = NULL;
}

static const struct mso_ops change_ops = {.hop = change_hop, .next = change_next, .reply = change_reply,
                                          .global = true};

/* ---------- reads ---------- */

static void reply_flags(struct reply *r, unsigned flags)
{
    int n = 0;
    for (int i = 0; i < FN_NFLAGS; i++)
        n += (flags >> i) & 1;
    reply_set(r, n);
    for (int i = 0; i < FN_NFLAGS; i++)
        if (flags & (1u << i))
            reply_status(r, fn_flag_names[i]);
}

static void reply_library(struct reply *r, const struct fn_lib *lib, bool code)
{
    reply_map(r, code ? 4 : 3);
    reply_bulkz(r, "library_name");
    reply_bulkz(r, lib->name);
    reply_bulkz(r, "engine");
    reply_bulkz(r, "LUA");
    reply_bulkz(r, "functions");
    reply_array(r, lib->nfuncs);
    for (int k = 0; k < lib->nfuncs; k++) {
        const struct fn_func *f = &lib->funcs[k];
        reply_map(r, 3);
        reply_bulkz(r, "name");
        reply_bulkz(r, f->name);
        reply_bulkz(r, "description");
        if (f->desc)
            reply_bulkz(r, f->desc);
        else
            reply_null(r);
        reply_bulkz(r, "flags");
        reply_flags(r, f->flags);
    }
    if (code) {
        reply_bulkz(r, "library_code");
        reply_bulk(r, lib->code, lib->len);
    }
}

static void cmd_function_list(struct cmd_ctx *c)
{
    bool code = false;
    const struct arg *pat = NULL;
    for (int i = 2; i < c->argc; i++) {
        const struct arg *a = &c->argv[i];
        if (!code && arg_eq(a, "withcode")) {
            code = true;
            continue;
        }
        if (!pat && arg_eq(a, "libraryname")) {
            if (i >= c->argc - 1) {
                reply_error(&c->r, "ERR library name argument was not given");
                return;
            }
            pat = &c->argv[++i];
            continue;
        }
        /* Redis replaces CR/LF in the echoed argument with spaces */
        char tmp[256];
        size_t n = a->len < sizeof(tmp) - 1 ? a->len : sizeof(tmp) - 1;
        for (size_t k = 0; k < n; k++)
            tmp[k] = (a->p[k] == '\r' || a->p[k] == '\n') ? ' ' : a->p[k];
        tmp[n] = 0;
        reply_errorf(&c->r, "ERR Unknown argument %s", tmp);
        return;
    }
    const struct fn_set *s = fn_current();
    int n = 0;
    for (int i = 0; i < s->nlibs; i++)
        n += !pat || glob_match(pat->p, pat->len, s->libs[i].name, strlen(s->libs[i].name), true);
    reply_array(&c->r, n);
    for (int i = 0; i < s->nlibs; i++)
        if (!pat || glob_match(pat->p, pat->len, s->libs[i].name, strlen(s->libs[i].name), true))
            reply_library(&c->r, &s->libs[i], code);
}

static void cmd_function_dump(struct cmd_ctx *c)
{
    struct buf b;
    buf_init(&b);
    fn_dump_payload(fn_current(), &b);
    reply_bulk(&c->r, b.data ? b.data : "", b.len);
    buf_free(&b);
}

static void cmd_function_stats(struct cmd_ctx *c)
{
    const struct fn_set *s = fn_current();
    reply_map(&c->r, 2);
    reply_bulkz(&c->r, "running_script");
    busy_reply_running_script(c);
    reply_bulkz(&c->r, "engines");
    reply_map(&c->r, 1);
    reply_bulkz(&c->r, "LUA");
    reply_map(&c->r, 2);
    reply_bulkz(&c->r, "libraries_count");
    reply_int(&c->r, s->nlibs);
    reply_bulkz(&c->r, "functions_count");
    reply_int(&c->r, fn_set_count_functions(s));
}

static void cmd_function_kill(struct cmd_ctx *c) { busy_kill(c, false); }

static void cmd_function_help(struct cmd_ctx *c)
{
    static const char *const lines[] = {
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    };
    int n = (int)(sizeof(lines) / sizeof(lines[0]));
    reply_array(&c->r, n);
    for (int i = 0; i < n; i++)
        reply_status(&c->r, lines[i]);
}

static void cmd_function_arity(struct cmd_ctx *c)
{
    reply_errorf(&c->r, "ERR wrong number of arguments for '%s' command", c->cmd->name);
}

static void cmd_unused(struct cmd_ctx *c) { (void)c; }

/* ---------- FCALL / FCALL_RO ---------- */

static int fcall_getkeys(struct arg *argv, int argc, int *keys, int max)
{
    long long n;
    if (argc < 3 || !arg_to_ll(&argv[2], &n) || n < 0 || n > argc - 3)
        return 0;
    int k = 0;
    for (int i = 3; i < 3 + n && k < max; i++)
        keys[k++] = i;
    return k;
}

static void fcall_run(struct worker *w, struct mso *t, struct reply *r)
{
    bool ro_cmd = t->argv[0].len == 8; /* fcall_ro */
    const struct arg *name = &t->argv[1];
    const struct fn_func *f = fn_set_find_func(fn_current(), name->p, name->len, NULL);
    if (!f) {
        reply_error(r, "ERR Function not found");
        return;
    }
    long long numkeys;
    if (!arg_to_ll(&t->argv[2], &numkeys)) {
        reply_error(r, "ERR Bad number of keys provided");
        return;
    }
    if (numkeys > t->argc - 3) {
        reply_error(r, "ERR Number of keys can't be greater than number of args");
        return;
    }
    if (numkeys < 0) {
        reply_error(r, "ERR Number of keys can't be negative");
        return;
    }
    if ((f->flags & FN_NO_CLUSTER) && w->cfg.cluster_enabled) {
        reply_error(r, "ERR Can not run script on cluster, 'no-cluster' flag is set.");
        return;
    }
    if (ro_cmd && !(f->flags & FN_NO_WRITES)) {
        reply_error(r, "ERR Can not execute a script with write flag using *_ro command.");
        return;
    }
    char fname[256];
    snprintf(fname, sizeof(fname), "%s", f->name);
    lua_State *L = fn_push_function(fname, strlen(fname));
    if (!L) {
        reply_error(r, "ERR Function not found");
        return;
    }
    script_invoke(w, t, L, fname, true, (f->flags & FN_NO_WRITES) != 0, (f->flags & FN_ALLOW_CROSS_SLOT) != 0, r);
}

static void fcall_hop(struct cmd_ctx *c, struct mso *t, int part, int hop)
{
    (void)c;
    (void)t;
    (void)part;
    (void)hop; /* a barrier: every shard holds the operation from here */
}

static int fcall_next(struct mso *t, int hop)
{
    if (hop == 0) {
        struct worker *w = worker_self();
        w->now_ms = mstime();
        struct reply r = {&t->scratch, t->resp};
        fcall_run(w, t, &r);
    }
    return -1;
}

static void fcall_reply(struct mso *t, struct reply *r)
{
    if (r)
        reply_raw(r, t->scratch.data, t->scratch.len);
}

static const struct mso_ops fcall_ops = {.hop = fcall_hop, .next = fcall_next, .reply = fcall_reply, .global = true,
                                         .yields = true};

#define F_CHANGE (CMD_NOSCRIPT | CMD_WRITE | CMD_GLOBAL)

static const struct command function_subcommands[] = {
    {"function|delete", 3, F_CHANGE, 0, 0, 0, cmd_unused, .mso = &change_ops, .group = "scripting", .summary = "Delete a function by name", .since = "7.0.0", .complexity = "O(1)", .acl = "write slow scripting"},
    {"function|dump", 2, CMD_NOSCRIPT, 0, 0, 0, cmd_function_dump, .group = "scripting", .summary = "Dump all functions into a serialized binary payload", .since = "7.0.0", .complexity = "O(N) where N is the number of functions", .acl = "slow scripting"},
    {"function|flush", -2, F_CHANGE, 0, 0, 0, cmd_unused, .mso = &change_ops, .group = "scripting", .summary = "Deleting all functions", .since = "7.0.0", .complexity = "O(N) where N is the number of functions deleted", .acl = "write slow scripting"},
    {"function|help", 2, CMD_LOADING | CMD_STALE, 0, 0, 0, cmd_function_help, .group = "scripting", .summary = "Show helpful text about the different subcommands", .since = "7.0.0", .complexity = "O(1)", .acl = "slow scripting"},
    {"function|kill", 2, CMD_NOSCRIPT | CMD_ALLOW_BUSY, 0, 0, 0, cmd_function_kill, .group = "scripting", .summary = "Kill the function currently in execution.", .since = "7.0.0", .complexity = "O(1)", .acl = "slow scripting"},
    {"function|list", -2, CMD_NOSCRIPT, 0, 0, 0, cmd_function_list, .group = "scripting", .summary = "List information about all the functions", .since = "7.0.0", .complexity = "O(N) where N is the number of functions", .acl = "slow scripting"},
    {"function|load", -3, F_CHANGE | CMD_DENYOOM, 0, 0, 0, cmd_unused, .mso = &change_ops, .group = "scripting", .summary = "Create a function with the given arguments (name, code, description)", .since = "7.0.0", .complexity = "O(1) (considering compilation time is redundant)", .acl = "write slow scripting"},
    {"function|restore", -3, F_CHANGE | CMD_DENYOOM, 0, 0, 0, cmd_unused, .mso = &change_ops, .group = "scripting", .summary = "Restore all the functions on the given payload", .since = "7.0.0", .complexity = "O(N) where N is the number of functions on the payload", .acl = "write slow scripting"},
    {"function|stats", 2, CMD_NOSCRIPT | CMD_ALLOW_BUSY, 0, 0, 0, cmd_function_stats, .group = "scripting", .summary = "Return information about the function currently running (name, description, duration)", .since = "7.0.0", .complexity = "O(1)", .acl = "slow scripting"},
    {NULL},
};

#define FC_FLAGS (CMD_NOSCRIPT | CMD_SKIP_MONITOR | CMD_STALE | CMD_MOVABLE_KEYS | CMD_GLOBAL)

const struct command function_commands[] = {
    {"function", -2, CMD_CONN, 0, 0, 0, cmd_function_arity, .subcmds = function_subcommands, .group = "scripting", .summary = "A container for function commands", .since = "7.0.0", .complexity = "Depends on subcommand.", .acl = "slow"},
    {"fcall", -3, FC_FLAGS | CMD_MAY_REPLICATE, 0, 0, 0, cmd_unused, .mso = &fcall_ops, .getkeys = fcall_getkeys, .group = "scripting", .summary = "Invoke a function", .since = "7.0.0", .complexity = "Depends on the function that is executed.", .acl = "slow scripting"},
    {"fcall_ro", -3, FC_FLAGS | CMD_READONLY, 0, 0, 0, cmd_unused, .mso = &fcall_ops, .getkeys = fcall_getkeys, .group = "scripting", .summary = "Invoke a read-only function", .since = "7.0.0", .complexity = "Depends on the function that is executed.", .acl = "slow scripting"},
    {NULL},
};
