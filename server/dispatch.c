/* server/dispatch.c — from a parsed request to where it runs: command lookup
 * (with subcommands), arity, authentication, key extraction, slot -> owner
 * thread, and the choice between inline, remote single-shard and
 * multi-shard execution. Errors are Redis's, word for word.
 * Owns: the checks done before any routing. Must not touch keyspace data. */
#include "server/server.h"
#include "server/blocking.h" /* blocking: hooks */
#include "cluster/slot.h"
#include "cluster/cluster.h" /* cluster: redirection hook */
#include "server/clock.h"
#include "server/multi.h" /* multi: hooks */
#include "server/pubsub.h" /* pubsub: hooks */
#include "server/tracking.h" /* tracking: CLIENT CACHING lifetime */
#include "server/busy.h" /* busy: -BUSY while a script runs long */
#include "server/monitor.h" /* monitor: feed commands */

#include <ctype.h>
#include <mimalloc.h>
#include <stdio.h>
#include <string.h>

#define MAX_KEYS_STACK 64

/* Redis lists arguments while the list is shorter than 128 bytes, each cut
 * to what is left of those 128. */
static void append_quoted_args(char *out, size_t outlen, const struct arg *argv, int from, int argc)
{
    size_t base = strlen(out), args = 0;
    for (int i = from; i < argc && args < 128; i++) {
        size_t room = 128 - args;
        int n = snprintf(out + base + args, outlen - base - args, "'%.*s' ",
                         (int)(argv[i].len < room ? argv[i].len : room), argv[i].p);
        if (n < 0 || (size_t)n >= outlen - base - args)
            break;
        args += (size_t)n;
    }
}

static void sanitize(char *s)
{
    for (; *s; s++)
        if (*s == '\r' || *s == '\n')
            *s = ' ';
}

const struct command *command_lookup(const struct arg *argv, int argc, const char **errp)
{
    static _Thread_local char err[1024];
    const struct command *cmd = command_find(argv[0].p, argv[0].len);
    if (!cmd) {
        snprintf(err, sizeof(err), "ERR unknown command '%.*s', with args beginning with: ",
                 (int)(argv[0].len > 128 ? 128 : argv[0].len), argv[0].p);
        append_quoted_args(err, sizeof(err), argv, 1, argc);
        sanitize(err);
        *errp = err;
        return NULL;
    }
    if (cmd->subcmds && argc >= 2) {
        const struct command *sub = command_find_sub(cmd, argv[1].p, argv[1].len);
        if (!sub) {
            char upper[64];
            size_t i = 0;
            for (; cmd->name[i] && i < sizeof(upper) - 1; i++)
                upper[i] = (char)toupper((unsigned char)cmd->name[i]);
            upper[i] = 0;
            snprintf(err, sizeof(err), "ERR unknown subcommand '%.*s'. Try %s HELP.",
                     (int)(argv[1].len > 128 ? 128 : argv[1].len), argv[1].p, upper);
            sanitize(err);
            *errp = err;
            return NULL;
        }
        cmd = sub;
    }
    if ((cmd->arity > 0 && cmd->arity != argc) || (cmd->arity < 0 && argc < -cmd->arity)) {
        snprintf(err, sizeof(err), "ERR wrong number of arguments for '%s' command", cmd->name);
        *errp = err;
        return NULL;
    }
    return cmd;
}

static void reply_now_error(struct conn *c, const char *msg)
{
    struct pending *pend;
    struct reply r = {conn_begin_reply(c, &pend), c->resp};
    stats_count_error(c->w, msg, strlen(msg));
    reply_error(&r, msg);
    conn_end_reply(c, pend);
}

/* Keyless commands and connection commands run here, on the connection's thread. */
static void exec_inline(struct conn *c, const struct command *cmd, int argc, struct arg *argv)
{
    struct pending *pend;
    struct cmd_ctx ctx = {
        .w = c->w,
        .ks = &c->w->ks,
        .conn = c,
        .cmd = cmd,
        .db = c->db,
        .argc = argc,
        .argv = argv,
        .now_ms = c->w->now_ms,
        .client_id = c->id,
    };
    ctx.r.b = conn_begin_reply(c, &pend);
    ctx.r.resp = c->resp;
    size_t start = ctx.r.b->len;
    uint64_t t0 = clock_ticks();
    cmd->handler(&ctx);
    stats_after_command(c->w, cmd, ctx.r.b, start, ticks_to_nsec(clock_ticks() - t0));
    conn_end_reply(c, pend);
}

/* Subscription confirmations are pushes: CLIENT REPLY OFF/SKIP do not hide them. */
static bool is_subscription_command(const struct arg *name)
{
    static const char *const names[] = {"subscribe", "psubscribe", "ssubscribe",
                                        "unsubscribe", "punsubscribe", "sunsubscribe"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (arg_eq(name, names[i]))
            return true;
    return false;
}

static void dispatch_one(struct conn *c, int argc, struct arg *argv);

/* CLIENT REPLY OFF / SKIP: as Redis, SKIP silences the command after it. */
void dispatch_command(struct conn *c, int argc, struct arg *argv)
{
    c->reply_mode &= (uint8_t)~REPLY_SKIP;
    if (c->reply_mode & REPLY_SKIP_NEXT)
        c->reply_mode = (uint8_t)((c->reply_mode & ~REPLY_SKIP_NEXT) | REPLY_SKIP);
    c->silence_current = (c->reply_mode & (REPLY_OFF | REPLY_SKIP)) && !is_subscription_command(&argv[0]);
    if (argc == 3 && arg_eq(&argv[0], "client") && arg_eq(&argv[1], "reply"))
        c->silence_current = arg_eq(&argv[2], "off") || arg_eq(&argv[2], "skip");
    dispatch_one(c, argc, argv);
    tracking_after_dispatch(c, &argv[0]); /* tracking: CACHING lasts one command / one MULTI */
    c->silence_current = false;
    blocking_serve_ready(c->w); /* blocking: serve keys an inline command made ready */
}

static void dispatch_one(struct conn *c, int argc, struct arg *argv)
{
    const char *err = NULL;
    struct worker *w = c->w;
    if (w->busy && busy_refuse(c, argc, argv)) /* busy: a script past busy-reply-threshold */
        return;
    w->stats.total_commands++;
    if (c->multi && multi_dispatch(c, argc, argv)) /* multi: queue inside MULTI */
        return;
    const struct command *cmd = command_lookup(argv, argc, &err);
    if (!cmd) {
        const struct command *known = command_find(argv[0].p, argv[0].len);
        if (known)
            stats_count_rejected(w, known);
        reply_now_error(c, err);
        return;
    }
    if (cmd->variant) /* SORT with BY/GET patterns: a global operation */
        cmd = cmd->variant(cmd, argv, argc);
    c->last_cmd = cmd->name;
    if (!c->authenticated && !(cmd->flags & CMD_NOAUTH)) {
        stats_count_rejected(w, cmd);
        reply_now_error(c, "NOAUTH Authentication required.");
        return;
    }
    if (w->loading && !(cmd->flags & CMD_LOADING)) { /* persist: dataset loading */
        stats_count_rejected(w, cmd);
        reply_now_error(c, "LOADING Redis is loading the dataset in memory");
        return;
    }
    if (c->pubsub && pubsub_deny(c, cmd)) return; /* pubsub: subscribed RESP2 context allows only (P|S)(UN)SUBSCRIBE PING QUIT RESET */
    /* monitor: as Redis, admin commands are never shown; scripts (SKIP_MONITOR) are, before their calls */
    bool monitored = !(cmd->flags & CMD_ADMIN) && (!(cmd->flags & CMD_SKIP_MONITOR) || (cmd->mso && cmd->mso->yields));
    if (cmd->flags & CMD_CONN) {
        exec_inline(c, cmd, argc, argv);
        if (monitored && !c->closing && !multi_exec_monitor_deferred(c)) /* multi: EXEC feeds itself when it ends */
            monitor_feed(w, c, c->db, argc, argv); /* after it ran: SELECT shows its new db */
        return;
    }
    if (monitored)
        monitor_feed(w, c, c->db, argc, argv);
    if (cmd->route) {
        exec_single(c, cmd, argc, argv, cmd->route(argv, argc), NULL, 0, -1);
        return;
    }
    if (cmd->flags & CMD_GLOBAL) {
        exec_mso(c, cmd, argc, argv, NULL, 0);
        return;
    }
    int keystack[MAX_KEYS_STACK];
    int maxkeys = argc;
    int *keys = maxkeys <= MAX_KEYS_STACK ? keystack : mi_malloc(sizeof(int) * (size_t)maxkeys);
    int nkeys = command_keys(cmd, argv, argc, keys, maxkeys);
    if (cluster_redirect(c, cmd, argc, argv, keys, nkeys)) { if (keys != keystack) mi_free(keys); return; } /* cluster: MOVED/ASK/CROSSSLOT */
    if (nkeys <= 0) {
        exec_inline(c, cmd, argc, argv);
    } else {
        unsigned slot0 = arg_slot(&argv[keys[0]]);
        int owner = g_slot_owner[slot0];
        bool same = true;
        for (int i = 1; i < nkeys && same; i++)
            same = g_slot_owner[arg_slot(&argv[keys[i]])] == owner;
        if (same || !cmd->mso)
            exec_single(c, cmd, argc, argv, owner, keys, nkeys, (int)slot0);
        else
            exec_mso(c, cmd, argc, argv, keys, nkeys);
    }
    if (keys != keystack)
        mi_free(keys);
}
