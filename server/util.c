/* server/util.c — small helpers shared by command families: argument
 * parsing with Redis's rules, and keyspace access that derives the slot from
 * the key. Owns no state. */
#include "server/server.h"
#include "server/blocking.h" /* blocking: hook */
#include "cluster/slot.h"
#include "server/clock.h"
#include "server/multi.h" /* multi: hooks */
#include "server/pubsub.h" /* pubsub: keyspace events */
#include "server/tracking.h" /* tracking: invalidation */

#include <mimalloc.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool arg_eq(const struct arg *a, const char *s)
{
    size_t n = strlen(s);
    return a->len == n && strncasecmp(a->p, s, n) == 0;
}

bool arg_to_ll(const struct arg *a, long long *out)
{
    int64_t v;
    if (!string_to_int64(a->p, a->len, &v))
        return false;
    *out = v;
    return true;
}

bool arg_get_ll(struct cmd_ctx *c, const struct arg *a, long long *out)
{
    if (arg_to_ll(a, out))
        return true;
    reply_error(&c->r, ERR_NOT_INT);
    return false;
}

static bool copy_num(const struct arg *a, char *tmp, size_t cap)
{
    if (a->len == 0 || a->len >= cap || memchr(a->p, 0, a->len))
        return false;
    memcpy(tmp, a->p, a->len);
    tmp[a->len] = 0;
    if (isspace((unsigned char)tmp[0]))
        return false;
    return true;
}

bool arg_to_double(const struct arg *a, double *out)
{
    char tmp[256];
    if (!copy_num(a, tmp, sizeof(tmp)))
        return false;
    char *end;
    errno = 0;
    double v = strtod(tmp, &end);
    if (*end || isnan(v) || (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)))
        return false;
    *out = v;
    return true;
}

bool arg_to_long_double(const struct arg *a, long double *out)
{
    char tmp[256];
    if (!copy_num(a, tmp, sizeof(tmp)))
        return false;
    char *end;
    errno = 0;
    long double v = strtold(tmp, &end);
    if (*end || isnan(v) || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

unsigned arg_slot(const struct arg *a) { return key_hash_slot(a->p, a->len); }

void str_tolower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

uint32_t lru_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint32_t)(ts.tv_sec & ((1 << 24) - 1));
}

struct entry *db_find(struct cmd_ctx *c, const struct arg *key, struct ks_ref *ref)
{
    unsigned slot = key == c->slot_arg ? c->slot_val : arg_slot(key);
    return ks_find(c->ks, c->db, slot, key->p, key->len, c->now_ms, ref); /* lazy expiry: ks->on_expired */
}

struct entry *db_find_type(struct cmd_ctx *c, const struct arg *key, int type, struct ks_ref *ref,
                           bool *wrongtype)
{
    struct entry *e = db_find(c, key, ref);
    *wrongtype = e && e->type != type;
    return *wrongtype ? NULL : e;
}

static inline uint32_t ctx_lru(const struct cmd_ctx *c)
{
    return (uint32_t)((c->now_ms / 1000) & ((1 << 24) - 1));
}

void db_add(struct cmd_ctx *c, const struct arg *key, struct entry *e)
{
    e->lru = ctx_lru(c);
    ks_add(c->ks, c->db, key == c->slot_arg ? c->slot_val : arg_slot(key), e);
    notify_keyspace_event(c, NOTIFY_NEW, "new", key); /* pubsub: keyspace event */
    db_signal_modified(c, key); /* multi: a new key is a modification */
}

void db_touch(struct cmd_ctx *c, struct entry *e)
{
    e->lru = ctx_lru(c);
}

void db_signal_modified(struct cmd_ctx *c, const struct arg *key)
{
    multi_touch(c->w, c->db, key->p, key->len); /* multi: WATCH sees the write */
    tracking_key_modified(c->w, c->client_id, key->p, key->len); /* tracking: invalidate */
    blocking_signal_key(c->w, c->db, key->p, key->len); /* blocking: serve clients parked on it */
}

double g_usec_per_tick = 0.001;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void clock_calibrate(void)
{
    uint64_t n0 = mono_ns(), t0 = clock_ticks();
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
    uint64_t n1 = mono_ns(), t1 = clock_ticks();
    if (t1 > t0 && n1 > n0)
        g_usec_per_tick = (double)(n1 - n0) / 1000.0 / (double)(t1 - t0);
}

/* ---- the *SCAN family's shared arguments ---- */

/* parseScanCursorOrReply: strtoul's rules (sign allowed, "" is 0, no leading
 * space, no trailing bytes, no overflow). */
bool scan_parse_cursor(const struct arg *a, uint64_t *out)
{
    char stack[64];
    char *s = a->len < sizeof(stack) ? stack : mi_malloc(a->len + 1);
    memcpy(s, a->p, a->len);
    s[a->len] = 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    bool ok = !isspace((unsigned char)s[0]) && *end == 0 && errno != ERANGE;
    if (s != stack)
        mi_free(s);
    *out = v;
    return ok;
}

bool scan_parse_options(struct cmd_ctx *c, int first, long long *count, const struct arg **pat)
{
    for (int i = first; i < c->argc; i += 2) {
        bool has_value = c->argc - i >= 2;
        if (arg_eq(&c->argv[i], "count") && has_value) {
            if (!arg_get_ll(c, &c->argv[i + 1], count))
                return false;
            if (*count < 1) {
                reply_error(&c->r, ERR_SYNTAX);
                return false;
            }
        } else if (arg_eq(&c->argv[i], "match") && has_value) {
            const struct arg *p = &c->argv[i + 1];
            *pat = p->len == 1 && p->p[0] == '*' ? NULL : p;
        } else {
            reply_error(&c->r, ERR_SYNTAX);
            return false;
        }
    }
    return true;
}

void reply_scan_empty(struct reply *r)
{
    reply_array(r, 2);
    reply_bulk(r, "0", 1);
    reply_array(r, 0);
}
