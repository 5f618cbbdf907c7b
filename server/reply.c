/* server/reply.c — RESP2/RESP3 reply encoding (see reply.h). */
#include "server/reply.h"
#include "shard/object.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char ERR_SYNTAX[] = "ERR syntax error";
const char ERR_NOT_INT[] = "ERR value is not an integer or out of range";
const char ERR_NOT_FLOAT[] = "ERR value is not a valid float";
const char ERR_WRONGTYPE[] = "WRONGTYPE Operation against a key holding the wrong kind of value";
const char ERR_OVERFLOW[] = "ERR increment or decrement would overflow";
const char ERR_NO_KEY[] = "ERR no such key";
const char ERR_OUT_OF_RANGE[] = "ERR index out of range";
const char ERR_EXPIRE[] = "ERR invalid expire time in '%s' command";

static void put_len_line(struct buf *b, char type, int64_t n)
{
    char tmp[32];
    tmp[0] = type;
    size_t l = 1 + int64_to_string(tmp + 1, n);
    tmp[l++] = '\r';
    tmp[l++] = '\n';
    buf_put(b, tmp, l);
}

void reply_raw(struct reply *r, const void *p, size_t n) { buf_put(r->b, p, n); }

void reply_statusn(struct reply *r, const char *s, size_t n)
{
    buf_reserve(r->b, n + 3);
    buf_appendc(r->b, '+');
    /* a status may not hold CR/LF: replace like Redis does */
    for (size_t i = 0; i < n; i++)
        buf_appendc(r->b, (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i]);
    buf_put(r->b, "\r\n", 2);
}

void reply_status(struct reply *r, const char *s) { reply_statusn(r, s, strlen(s)); }

void reply_ok(struct reply *r) { buf_put(r->b, "+OK\r\n", 5); }

void reply_error(struct reply *r, const char *msg)
{
    size_t n = strlen(msg);
    buf_reserve(r->b, n + 3);
    buf_appendc(r->b, '-');
    for (size_t i = 0; i < n; i++)
        buf_appendc(r->b, (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i]);
    buf_put(r->b, "\r\n", 2);
}

void reply_errorf(struct reply *r, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    reply_error(r, tmp);
}

void reply_int(struct reply *r, int64_t v)
{
    if (v >= 0 && v < 10) {
        char tmp[4] = {':', (char)('0' + v), '\r', '\n'};
        buf_put(r->b, tmp, 4);
        return;
    }
    put_len_line(r->b, ':', v);
}

void reply_bulk(struct reply *r, const void *p, size_t n)
{
    struct buf *b = r->b;
    buf_reserve(b, n + 32);
    put_len_line(b, '$', (int64_t)n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
}

void reply_bulkz(struct reply *r, const char *s) { reply_bulk(r, s, strlen(s)); }

void reply_bulk_int(struct reply *r, int64_t v)
{
    char tmp[24];
    size_t n = int64_to_string(tmp, v);
    reply_bulk(r, tmp, n);
}

void reply_null(struct reply *r)
{
    if (r->resp == 3)
        buf_put(r->b, "_\r\n", 3);
    else
        buf_put(r->b, "$-1\r\n", 5);
}

void reply_null_array(struct reply *r)
{
    if (r->resp == 3)
        buf_put(r->b, "_\r\n", 3);
    else
        buf_put(r->b, "*-1\r\n", 5);
}

void reply_array(struct reply *r, int64_t n) { put_len_line(r->b, '*', n); }

void reply_map(struct reply *r, int64_t n)
{
    if (r->resp == 3)
        put_len_line(r->b, '%', n);
    else
        put_len_line(r->b, '*', n * 2);
}

void reply_set(struct reply *r, int64_t n) { put_len_line(r->b, r->resp == 3 ? '~' : '*', n); }

void reply_push(struct reply *r, int64_t n) { put_len_line(r->b, r->resp == 3 ? '>' : '*', n); }

int format_double(char *buf, size_t len, double d)
{
    if (isinf(d))
        return snprintf(buf, len, "%s", d > 0 ? "inf" : "-inf");
    if (isnan(d))
        return snprintf(buf, len, "nan");
    return snprintf(buf, len, "%.17g", d);
}

int format_long_double(char *buf, size_t len, long double d)
{
    if (isinf(d))
        return snprintf(buf, len, "%s", d > 0 ? "inf" : "-inf");
    int n = snprintf(buf, len, "%.17Lf", d);
    if (n <= 0 || (size_t)n >= len)
        return n;
    /* drop trailing zeros and a trailing dot, as Redis's humanfriendly mode */
    if (strchr(buf, '.')) {
        while (n > 0 && buf[n - 1] == '0')
            n--;
        if (n > 0 && buf[n - 1] == '.')
            n--;
        buf[n] = 0;
    }
    if (n == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        buf[1] = 0;
        n = 1;
    }
    return n;
}

void reply_double(struct reply *r, double d)
{
    char tmp[64];
    int n = format_double(tmp, sizeof(tmp), d);
    if (r->resp == 3) {
        buf_appendc(r->b, ',');
        buf_put(r->b, tmp, (size_t)n);
        buf_put(r->b, "\r\n", 2);
    } else {
        reply_bulk(r, tmp, (size_t)n);
    }
}

void reply_bool(struct reply *r, bool v)
{
    if (r->resp == 3)
        buf_put(r->b, v ? "#t\r\n" : "#f\r\n", 4);
    else
        buf_put(r->b, v ? ":1\r\n" : ":0\r\n", 4);
}

void reply_verbatim(struct reply *r, const char *p, size_t n, const char *ext)
{
    if (r->resp != 3) {
        reply_bulk(r, p, n);
        return;
    }
    put_len_line(r->b, '=', (int64_t)n + 4);
    buf_put(r->b, ext, 3);
    buf_appendc(r->b, ':');
    buf_put(r->b, p, n);
    buf_put(r->b, "\r\n", 2);
}

void reply_bignum(struct reply *r, const char *p, size_t n)
{
    if (r->resp != 3) {
        reply_bulk(r, p, n);
        return;
    }
    buf_appendc(r->b, '(');
    buf_put(r->b, p, n);
    buf_put(r->b, "\r\n", 2);
}
