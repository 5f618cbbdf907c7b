/* server/server.h — the server's shared types: workers (one per thread, each
 * an I/O loop and a shard), messages between them, connections, the command
 * table entry and the context a command handler runs in.
 * Owns the definitions only; behaviour lives in worker.c, conn.c,
 * dispatch.c, transaction.c and the cmd_*.c families. */
#ifndef DARTER_SERVER_SERVER_H
#define DARTER_SERVER_SERVER_H

#include "io/buf.h"
#include "io/loop.h"
#include "io/mailbox.h"
#include "server/config.h"
#include "server/reply.h"
#include "server/resp.h"
#include "shard/keyspace.h"
#include "shard/txqueue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define MAX_THREADS 256

struct worker;
struct conn;
struct cmd_ctx;
struct mso;
struct block_req;

/* ---------- messages between workers ---------- */

struct msg {
    void (*fn)(struct worker *w, struct msg *m);
    struct msg *next; /* overflow and local queues */
};

/* ---------- commands ---------- */

enum cmd_flag {
    CMD_WRITE = 1u << 0,
    CMD_READONLY = 1u << 1,
    CMD_ADMIN = 1u << 2,
    CMD_PUBSUB = 1u << 3,
    CMD_NOSCRIPT = 1u << 4,
    CMD_LOADING = 1u << 5,
    CMD_STALE = 1u << 6,
    CMD_FAST = 1u << 7,
    CMD_NOAUTH = 1u << 8,    /* allowed before AUTH */
    CMD_DENYOOM = 1u << 9,
    CMD_CONN = 1u << 10,     /* runs on the connection's thread with the connection */
    CMD_GLOBAL = 1u << 11,   /* runs on every shard (mso) */
    CMD_MULTIKEY = 1u << 12, /* keys may span shards (mso) */
    CMD_SKIP_MONITOR = 1u << 13,
    CMD_NO_MULTI = 1u << 14,
    CMD_BLOCKING = 1u << 15,
    CMD_MAY_REPLICATE = 1u << 16,
    CMD_SENTINEL = 1u << 17,
    CMD_ALLOW_BUSY = 1u << 18,
    CMD_MOVABLE_KEYS = 1u << 19,
};

/* A multi-shard operation's per-command behaviour. Hops run on shards
 * (each over the keys that shard owns); `next` runs on the coordinator after
 * each hop and returns the next hop number or -1; `reply` writes the reply. */
struct mso_ops {
    void (*hop)(struct cmd_ctx *c, struct mso *t, int part, int hop);
    int (*next)(struct mso *t, int hop);
    void (*reply)(struct mso *t, struct reply *r);
    bool global;   /* every shard, lock everything */
    bool no_lock;  /* read-only sampling that needs no isolation (SCAN-like) */
    bool yields;   /* may run long (scripts): always run from the loop's mailbox, never inline */
    bool barrier0; /* hop 0 does nothing but hold every shard: a shard that
                      accepts the operation at the head of its queue runs
                      hop 0 at once (one round of messages less) */
    bool at_keys;  /* global: coordinated by the thread that owns all of the
                      command's keys when one does (its `next` runs there,
                      next to the data), not by the connection's thread */
};

typedef void (*cmd_handler)(struct cmd_ctx *c);
typedef int (*cmd_getkeys)(struct arg *argv, int argc, int *keys, int max);

struct command {
    const char *name;   /* lowercase; "config|get" style for subcommands */
    int arity;
    uint32_t flags;
    int first, last, step;
    cmd_handler handler;
    const struct mso_ops *mso;
    const char *group;
    const char *summary;
    const char *since;
    const char *complexity;
    const char *acl;     /* space separated ACL categories without '@' */
    const struct command *subcmds; /* NULL-name terminated */
    cmd_getkeys getkeys;
    /* keyless commands that must run on one particular thread (SCAN: the
     * owner of the cursor's slot) return that thread's id */
    int (*route)(const struct arg *argv, int argc);
    /* a command that runs as another entry for these arguments (SORT with
     * patterns reading other keys runs as a global operation); NULL: none */
    const struct command *(*variant)(const struct command *cmd, const struct arg *argv, int argc);
    /* filled at startup */
    const struct command *parent;
    int id;
    _Atomic uint64_t *calls_unused;
};

/* ---------- the context a handler runs in ---------- */

struct cmd_ctx {
    struct worker *w;       /* executing thread */
    struct keyspace *ks;
    struct conn *conn;      /* only for CMD_CONN commands and inline keyless ones */
    const struct command *cmd;
    int db;
    int argc;
    struct arg *argv;
    struct reply r;
    int64_t now_ms;
    uint64_t client_id;
    int *keyidx;            /* mso: argv indices of this part's keys */
    int nkeys;
    const struct arg *slot_arg; /* a key whose slot is already known */
    unsigned slot_val;
    bool in_script;         /* run by a script (exec_command_here): SORT orders sets */
    bool in_exec;           /* run by EXEC (cmd_multi.c): MONITOR refuses */
    struct block_req *block;    /* blocking.h: NULL = may not block */
    uint16_t track;         /* tracking.h: remember the keys read for this token (0: no) */
};

/* ---------- pending replies ---------- */

enum pend_action { PEND_NONE = 0, PEND_CLOSE = 1 };

struct pending {
    struct pending *next;
    struct buf out;
    bool done;
    bool discard;          /* CLIENT REPLY OFF/SKIP: never sent */
    int action;
};

enum reply_mode_flag { REPLY_OFF = 1, REPLY_SKIP_NEXT = 2, REPLY_SKIP = 4 };

/* ---------- connections ---------- */

enum conn_flag {
    CONN_CLOSE_ASAP = 1u << 0,
    CONN_CLOSE_AFTER_REPLY = 1u << 1,
    CONN_UNIX = 1u << 2,
    CONN_PEER_EOF = 1u << 3,
    CONN_MONITOR = 1u << 4,      /* cmd_monitor.c: in MONITOR mode */
};

struct conn {
    struct io_sock sock;
    struct worker *w;
    uint64_t id;
    uint32_t flags;
    struct buf query;
    struct resp_parser parser;
    struct buf out[2];
    int out_active;        /* index of the buffer that collects replies */
    bool send_in_flight;
    bool flush_queued;
    bool closing;
    bool sock_closed;
    bool paused;           /* waiting for a multi-shard operation to finish */
    int inflight;          /* remote operations that will call back */
    struct pending *phead, *ptail;
    int db;
    int resp;
    bool authenticated;
    char *name;
    char addr[64];
    char laddr[64];
    int64_t ctime_ms;
    int64_t last_ms;
    const char *last_cmd;
    char lib_name[64];
    char lib_ver[32];
    uint64_t qbuf_peak;
    size_t qbuf_running;            /* bytes dropped from query while paused (CLIENT LIST qbuf, as Redis's) */
    size_t qbuf_kept;               /* consumed bytes left at the query's start (compacted lazily) */
    uint8_t reply_mode;             /* CLIENT REPLY: enum reply_mode_flag */
    bool silence_current;           /* the command being dispatched is not answered */
    void *multi;                    /* cmd_multi.c: MULTI queue and WATCHed keys */
    void *pubsub;                   /* cmd_pubsub.c: subscriptions */
    void *tracking;                 /* tracking.c: CLIENT TRACKING state */
    void *cluster;                  /* cluster/: READONLY, ASKING flags */
    void *blocked;                  /* blocking.c: parked on keys */
    struct conn *prev, *next;       /* worker's connection list */
    struct conn *next_flush;
};

/* ---------- workers ---------- */

struct outq {
    struct msg *head, *tail; /* messages that did not fit in the ring */
};

struct worker_stats {
    uint64_t total_commands;
    uint64_t total_connections;
    uint64_t rejected_connections;
    uint64_t net_input_bytes;
    uint64_t net_output_bytes;
    uint64_t tx_retries;
    uint64_t msgs_in;
};

struct worker {
    int id;
    pthread_t thread;
    struct io_loop *loop;
    struct keyspace ks;
    struct txq txq;
    struct config cfg;           /* this thread's copy; CONFIG SET updates every copy */
    struct spsc *inbox;          /* [nworkers]: inbox[from] */
    struct outq *outbox;         /* [nworkers]: overflow per destination */
    bool *wake_needed;           /* [nworkers] */
    struct msg *local_head, *local_tail; /* messages to self */
    struct conn *conns;
    uint32_t nconns;
    struct conn *flush_list;
    unsigned *owned_slots;
    unsigned nowned;
    struct worker_stats stats;
    uint64_t next_conn_seq;
    int listen_fd;
    int unix_fd;
    bool stopping;
    bool force_epoll;
    int64_t now_ms;
    uint64_t rnd;
    void *pubsub;                /* cmd_pubsub.c: this thread's channel -> subscribers */
    void *watch;                 /* cmd_multi.c: this shard's watched keys */
    void *tracking;              /* tracking.c: keys read by tracking clients, BCAST prefixes */
    void *cluster;               /* cluster/: this thread's view of the cluster config */
    void *blocking;              /* blocking.c: this shard's parked clients, ready keys */
    void *cmdstats;              /* info.c: this thread's per-command and error counters */
    bool no_active_expire;       /* DEBUG SET-ACTIVE-EXPIRE 0: worker_active_expire skips */
    bool loading;                /* persist.c: the dataset is loading; answer -LOADING */
    void *monitor;               /* cmd_monitor.c: monitors here and per thread, this iteration's lines */
    void *busy;                  /* busy.c: the script past busy-reply-threshold (NULL: none) */
    _Atomic uint32_t script_ctl; /* busy.c: this thread's running script, read by SCRIPT KILL anywhere */
};

/* Set once at startup, read-only afterwards. */
extern struct worker **g_workers;
extern int g_nworkers;
extern uint16_t g_slot_owner[16384];
extern int64_t g_start_time_ms;
extern _Atomic uint64_t g_next_txid;
extern _Atomic uint64_t g_next_client_id;
extern _Atomic int g_shutdown_requested;
extern _Atomic int g_workers_stop; /* persist: workers stop after the final save (main.c sets it) */
extern _Atomic uint32_t g_total_clients;

int64_t mstime(void);
int64_t ustime(void);

/* worker.c */
void worker_send(struct worker *from, int to, struct msg *m);
/* Send and wake the target at once (the caller will not return to its loop soon). */
void worker_send_now(struct worker *from, int to, struct msg *m);
/* busy.c: from inside a long script, serve this thread's sockets and mailboxes. */
void worker_serve_while_busy(struct worker *w);
struct worker *worker_self(void);
void worker_start_all(void);
void worker_join_all(void);

/* conn.c */
void conn_accept(struct worker *w, int fd, bool is_unix);
/* Reply now: write into the returned buffer, then call conn_end_reply. */
struct buf *conn_begin_reply(struct conn *c, struct pending **pend);
void conn_end_reply(struct conn *c, struct pending *pend);
/* Reply later (remote execution): a slot in the reply order. */
struct pending *conn_defer_reply(struct conn *c);
void conn_pending_done(struct conn *c, struct pending *p);
void conn_queue_flush(struct conn *c);
void conn_resume(struct conn *c);
void conn_close(struct conn *c);
void conn_flush_all(struct worker *w);
void conn_release(struct conn *c);
void conn_check_timeouts(struct worker *w);
void conn_describe(struct conn *c, struct buf *out);

/* dispatch.c */
void dispatch_command(struct conn *c, int argc, struct arg *argv);
const struct command *command_lookup(const struct arg *argv, int argc, const char **err);

/* transaction.c: single-shard and multi-shard execution */
/* slot0: the slot of argv[keyidx[0]] when known, else -1 */
void exec_single(struct conn *c, const struct command *cmd, int argc, struct arg *argv, int owner,
                 const int *keyidx, int nkeys, int slot0);
void exec_mso(struct conn *c, const struct command *cmd, int argc, struct arg *argv, const int *keyidx,
              int nkeys);
void shard_process_queue(struct worker *w);
/* busy.c: answer the single-shard commands queued on this shard with `err` */
void exec_reject_queued(struct worker *w, const char *err);
/* scripts (cmd_script.c): a whole command on this thread now, into `out` */
void exec_command_here(struct worker *w, const struct command *cmd, int db, int resp, uint64_t client_id,
                       int argc, struct arg *argv, int *keyidx, int nkeys, struct buf *out);
/* blocking.c: a parked client's command again, with its blocking request */
void exec_command_blocked(struct worker *w, const struct command *cmd, int db, int resp, uint64_t client_id,
                          int argc, struct arg *argv, int *keyidx, int nkeys, struct buf *out,
                          struct block_req *req);
/* Run hop `hop` of part `part` of t here, on that part's shard thread (the
 * caller holds the operation's place at the head of this shard's queue). */
void mso_run_part(struct worker *w, struct mso *t, int part, int hop);
/* mso `next` for single-hop operations */
int mso_one_hop(struct mso *t, int hop);
/* mso `reply`: the sum of every part's count as an integer */
void mso_reply_sum(struct mso *t, struct reply *r);

/* A multi-shard operation in flight; lives on the coordinator's thread. */
struct mso_part {
    int shard;
    int nkeys;
    int *keyidx;         /* argv indices of this shard's keys */
    int64_t count;       /* per-part results */
    int64_t count2;
    struct buf out;
    void *data;
};

struct mso {
    struct conn *conn;
    struct pending *pend;
    const struct command *cmd;
    const struct mso_ops *ops;
    int db;
    int resp;
    uint64_t client_id;
    int argc;
    struct arg *argv;
    char *argmem;
    uint64_t txid;
    int coordinator;     /* the connection's thread */
    void *shards;        /* scheduling state per part */
    int nparts;
    struct mso_part *parts;
    int waiting;
    int hop;
    int failed;
    bool scheduled;
    bool single;         /* all keys on one shard: no scheduling */
    uint16_t track;      /* tracking.h: the client's read token */
    int64_t i64;         /* command state */
    int64_t i64b;
    void *state;
    struct buf scratch;
    struct block_req *block;    /* blocking.h: NULL = may not block */
    int origin;          /* the connection's thread (at_keys may move the coordinator) */
    int chain_local;     /* chained scheduling: the local part whose hop 0 waits
                            for the remote part's, or -1 */
    struct msg home;     /* start on / return from a moved coordinator */
    struct buf home_out; /* a moved coordinator's reply */
};

/* commands.c */
void commands_init(void);
const struct command *command_find(const char *name, size_t len);
const struct command *command_find_sub(const struct command *parent, const char *name, size_t len);
int command_keys(const struct command *cmd, struct arg *argv, int argc, int *keys, int max);
typedef void (*command_visit_fn)(const struct command *cmd, void *arg);
void command_foreach(command_visit_fn fn, void *arg);
int command_count(void);

/* Per-family tables. */
extern const struct command string_commands[];
extern const struct command bitmap_commands[];
extern const struct command keys_commands[];
extern const struct command conn_commands[];
extern const struct command server_commands[];
extern const struct command command_commands[];
extern const struct command config_commands[];
extern const struct command function_commands[];
extern const struct command dump_commands[];
extern const struct command multi_commands[];
extern const struct command pubsub_commands[];
extern const struct command cluster_commands[];
extern const struct command script_commands[];
extern const struct command list_commands[];
extern const struct command hash_commands[];
extern const struct command set_commands[];
extern const struct command sort_commands[];
extern const struct command zset_commands[];
extern const struct command geo_commands[];
extern const struct command hll_commands[];
extern const struct command stream_commands[];
extern const struct command monitor_commands[];

/* Helpers for handlers (util.c). */
bool arg_eq(const struct arg *a, const char *s);
bool arg_to_ll(const struct arg *a, long long *out);
bool arg_to_double(const struct arg *a, double *out);
bool arg_to_long_double(const struct arg *a, long double *out);
/* Replies the error and returns false when the argument is not an integer. */
bool arg_get_ll(struct cmd_ctx *c, const struct arg *a, long long *out);
unsigned arg_slot(const struct arg *a);
/* HSCAN/SSCAN/ZSCAN/SCAN: the cursor (Redis's parseScanCursorOrReply rules);
 * COUNT and MATCH from argv[first] on (false after replying the error; a
 * MATCH of "*" leaves *pat NULL); the reply for a missing key. */
bool scan_parse_cursor(const struct arg *a, uint64_t *out);
bool scan_parse_options(struct cmd_ctx *c, int first, long long *count, const struct arg **pat);
void reply_scan_empty(struct reply *r);
bool glob_match(const char *pat, size_t plen, const char *str, size_t slen, bool nocase);
void str_tolower(char *s);

/* Keyspace access from a handler: the slot comes from the key. */
struct entry *db_find(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref);
struct entry *db_find_type(struct cmd_ctx *c, const struct arg *key, int type, struct ks_ref *ref,
                           bool *wrongtype);
void db_add(struct cmd_ctx *c, const struct arg *key, struct entry *e);
void db_touch(struct cmd_ctx *c, struct entry *e);
void db_signal_modified(struct cmd_ctx *c, const struct arg *key);
uint32_t lru_clock(void);

/* info.c: statistics for INFO commandstats / errorstats / stats. Call on
 * w's own thread (w == worker_self()); CONFIG RESETSTAT zeroes them. */
/* A command ran: `nsec` of execution, `failed` when it replied an error. */
void stats_count_command(struct worker *w, const struct command *cmd, int64_t nsec, bool failed);
/* A command was refused before running (NOAUTH, wrong arity of a known command, ...). */
void stats_count_rejected(struct worker *w, const struct command *cmd);
/* An error reply was sent: `msg` is its text without the leading '-'
 * (counted under its first word, e.g. errorstat_WRONGTYPE). */
void stats_count_error(struct worker *w, const char *msg, size_t len);
/* A woken blocked client's command ran again: its call was counted when it
 * blocked, only a failure counts now (Redis's updateStatsOnUnblock). */
void stats_count_rerun(struct worker *w, const struct command *cmd, int64_t nsec, bool failed);
/* Count a command that wrote its reply into b from `start` on. */
static inline void stats_after_command(struct worker *w, const struct command *cmd, const struct buf *b,
                                       size_t start, int64_t nsec)
{
    bool failed = b->len > start && b->data[start] == '-';
    stats_count_command(w, cmd, nsec, failed);
    if (failed)
        stats_count_error(w, b->data + start + 1, b->len - start - 1);
}
/* The same, for a run that may be a blocked client's rerun. */
static inline void stats_after_run(struct worker *w, const struct command *cmd, const struct buf *b, size_t start,
                                   int64_t nsec, bool rerun)
{
    if (!rerun) {
        stats_after_command(w, cmd, b, start, nsec);
        return;
    }
    bool failed = b->len > start && b->data[start] == '-';
    stats_count_rerun(w, cmd, nsec, failed);
    if (failed)
        stats_count_error(w, b->data + start + 1, b->len - start - 1);
}

#endif
