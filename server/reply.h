/* server/reply.h — building replies in RESP2 or RESP3 into a byte buffer.
 * Owns: the wire encoding of every reply shape. Callers pick the shape; the
 * protocol version decides the bytes (maps become flat arrays under RESP2,
 * nulls become the RESP2 null bulk or null array, doubles become bulk strings, booleans integers). */
#ifndef DARTER_SERVER_REPLY_H
#define DARTER_SERVER_REPLY_H

#include "io/buf.h"
#include <stdbool.h>
#include <stdint.h>

struct reply {
    struct buf *b;
    int resp; /* 2 or 3 */
};

void reply_status(struct reply *r, const char *s);
void reply_statusn(struct reply *r, const char *s, size_t n);
/* `msg` is the full message, e.g. "ERR syntax error" (no leading '-'). */
void reply_error(struct reply *r, const char *msg);
void reply_errorf(struct reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_ok(struct reply *r);
void reply_int(struct reply *r, int64_t v);
void reply_bulk(struct reply *r, const void *p, size_t n);
void reply_bulkz(struct reply *r, const char *s);
void reply_bulk_int(struct reply *r, int64_t v);
void reply_null(struct reply *r);        /* $-1 / _ */
void reply_null_array(struct reply *r);  /* *-1 / _ */
void reply_array(struct reply *r, int64_t n);
void reply_map(struct reply *r, int64_t n);   /* n pairs */
void reply_set(struct reply *r, int64_t n);
void reply_push(struct reply *r, int64_t n);
void reply_double(struct reply *r, double d);
void reply_bool(struct reply *r, bool v);
void reply_verbatim(struct reply *r, const char *p, size_t n, const char *ext);
void reply_bignum(struct reply *r, const char *p, size_t n);
void reply_raw(struct reply *r, const void *p, size_t n);

/* Redis's formatting of a double for replies (%.17g, inf / -inf). */
int format_double(char *buf, size_t len, double d);
/* Redis's long double formatting for INCRBYFLOAT (humanfriendly). */
int format_long_double(char *buf, size_t len, long double d);

/* Shared error texts, as Redis words them. */
extern const char ERR_SYNTAX[];
extern const char ERR_NOT_INT[];
extern const char ERR_NOT_FLOAT[];
extern const char ERR_WRONGTYPE[];
extern const char ERR_OVERFLOW[];
extern const char ERR_NO_KEY[];
extern const char ERR_OUT_OF_RANGE[];
extern const char ERR_EXPIRE[];

#endif
