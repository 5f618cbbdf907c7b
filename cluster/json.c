/* cluster/json.c — see json.h. Recursive descent over a byte range. */
#include "cluster/json.h"

#include <mimalloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 64

struct jp {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
    bool failed;
};

static void jfail(struct jp *j, const char *what)
{
    if (!j->failed)
        snprintf(j->err, j->errlen, "%s at offset %zu", what, (size_t)(j->p - j->start));
    j->failed = true;
}

static void skip_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static void json_clear(struct json *v)
{
    if (v->type == J_STR)
        mi_free(v->s);
    if (v->type == J_ARR || v->type == J_OBJ) {
        for (int i = 0; i < v->n; i++) {
            json_clear(&v->items[i]);
            if (v->keys)
                mi_free(v->keys[i]);
        }
        mi_free(v->items);
        mi_free(v->keys);
    }
}

void json_free(struct json *v)
{
    if (!v)
        return;
    json_clear(v);
    mi_free(v);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static char *parse_string(struct jp *j, size_t *outlen)
{
    /* at the opening quote */
    j->p++;
    size_t cap = 16, n = 0;
    char *s = mi_malloc(cap);
    for (;;) {
        if (j->p >= j->end) {
            jfail(j, "unterminated string");
            break;
        }
        unsigned char ch = (unsigned char)*j->p++;
        if (ch == '"') {
            s[n] = 0;
            *outlen = n;
            return s;
        }
        if (ch < 0x20) {
            jfail(j, "control character in string");
            break;
        }
        char tmp[4];
        size_t tn = 1;
        tmp[0] = (char)ch;
        if (ch == '\\') {
            if (j->p >= j->end) {
                jfail(j, "unterminated string");
                break;
            }
            char e = *j->p++;
            switch (e) {
            case '"': tmp[0] = '"'; break;
            case '\\': tmp[0] = '\\'; break;
            case '/': tmp[0] = '/'; break;
            case 'b': tmp[0] = '\b'; break;
            case 'f': tmp[0] = '\f'; break;
            case 'n': tmp[0] = '\n'; break;
            case 'r': tmp[0] = '\r'; break;
            case 't': tmp[0] = '\t'; break;
            case 'u': {
                if (j->end - j->p < 4) {
                    jfail(j, "bad \\u escape");
                    goto fail;
                }
                unsigned cp = 0;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(j->p[k]);
                    if (h < 0) {
                        jfail(j, "bad \\u escape");
                        goto fail;
                    }
                    cp = cp * 16 + (unsigned)h;
                }
                j->p += 4;
                if (cp < 0x80) {
                    tmp[0] = (char)cp;
                } else if (cp < 0x800) {
                    tmp[0] = (char)(0xC0 | (cp >> 6));
                    tmp[1] = (char)(0x80 | (cp & 0x3F));
                    tn = 2;
                } else {
                    tmp[0] = (char)(0xE0 | (cp >> 12));
                    tmp[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                    tmp[2] = (char)(0x80 | (cp & 0x3F));
                    tn = 3;
                }
                break;
            }
            default:
                jfail(j, "bad escape");
                goto fail;
            }
        }
        if (n + tn + 1 > cap) {
            cap *= 2;
            s = mi_realloc(s, cap);
        }
        memcpy(s + n, tmp, tn);
        n += tn;
    }
fail:
    mi_free(s);
    return NULL;
}

static bool parse_value(struct jp *j, struct json *v, int depth);

static bool parse_number(struct jp *j, struct json *v)
{
    const char *s = j->p;
    const char *q = s;
    if (q < j->end && *q == '-')
        q++;
    if (q >= j->end || *q < '0' || *q > '9')
        goto bad;
    if (*q == '0') {
        q++;
    } else {
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    }
    bool is_int = true;
    if (q < j->end && *q == '.') {
        is_int = false;
        q++;
        if (q >= j->end || *q < '0' || *q > '9')
            goto bad;
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    }
    if (q < j->end && (*q == 'e' || *q == 'E')) {
        is_int = false;
        q++;
        if (q < j->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= j->end || *q < '0' || *q > '9')
            goto bad;
        while (q < j->end && *q >= '0' && *q <= '9')
            q++;
    }
    char buf[64];
    size_t n = (size_t)(q - s);
    if (n >= sizeof(buf))
        goto bad;
    memcpy(buf, s, n);
    buf[n] = 0;
    v->type = J_NUM;
    v->num = strtod(buf, NULL);
    v->is_int = is_int && n <= 18;
    if (v->is_int)
        v->i = strtoll(buf, NULL, 10);
    j->p = q;
    return true;
bad:
    jfail(j, "bad number");
    return false;
}

static bool lit(struct jp *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) {
        jfail(j, "unexpected token");
        return false;
    }
    j->p += n;
    return true;
}

static bool parse_container(struct jp *j, struct json *v, int depth, bool obj)
{
    j->p++;
    v->type = obj ? J_OBJ : J_ARR;
    int cap = 0;
    skip_ws(j);
    if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
        j->p++;
        return true;
    }
    for (;;) {
        skip_ws(j);
        if (v->n == cap) {
            cap = cap ? cap * 2 : 4;
            v->items = mi_realloc(v->items, sizeof(struct json) * (size_t)cap);
            if (obj)
                v->keys = mi_realloc(v->keys, sizeof(char *) * (size_t)cap);
        }
        if (obj) {
            if (j->p >= j->end || *j->p != '"') {
                jfail(j, "expected a string key");
                return false;
            }
            size_t kl;
            char *k = parse_string(j, &kl);
            if (!k)
                return false;
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':') {
                mi_free(k);
                jfail(j, "expected ':'");
                return false;
            }
            j->p++;
            skip_ws(j);
            v->keys[v->n] = k;
        }
        memset(&v->items[v->n], 0, sizeof(struct json));
        v->n++;
        if (!parse_value(j, &v->items[v->n - 1], depth + 1))
            return false;
        skip_ws(j);
        if (j->p >= j->end) {
            jfail(j, "unexpected end of input");
            return false;
        }
        if (*j->p == ',') {
            j->p++;
            continue;
        }
        if (*j->p == (obj ? '}' : ']')) {
            j->p++;
            return true;
        }
        jfail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        return false;
    }
}

static bool parse_value(struct jp *j, struct json *v, int depth)
{
    if (depth > JSON_MAX_DEPTH) {
        jfail(j, "nesting too deep");
        return false;
    }
    skip_ws(j);
    if (j->p >= j->end) {
        jfail(j, "unexpected end of input");
        return false;
    }
    switch (*j->p) {
    case '{': return parse_container(j, v, depth, true);
    case '[': return parse_container(j, v, depth, false);
    case '"':
        v->s = parse_string(j, &v->slen);
        if (!v->s)
            return false;
        v->type = J_STR;
        return true;
    case 't': v->type = J_BOOL; v->b = true; return lit(j, "true");
    case 'f': v->type = J_BOOL; v->b = false; return lit(j, "false");
    case 'n': v->type = J_NULL; return lit(j, "null");
    default: return parse_number(j, v);
    }
}

struct json *json_parse(const char *p, size_t len, char *err, size_t errlen)
{
    struct jp j = {p, p + len, p, err, errlen, false};
    struct json *v = mi_zalloc(sizeof(*v));
    if (parse_value(&j, v, 0)) {
        skip_ws(&j);
        if (j.p != j.end)
            jfail(&j, "trailing characters");
    }
    if (j.failed) {
        json_free(v);
        return NULL;
    }
    return v;
}

const struct json *json_get(const struct json *obj, const char *key)
{
    if (!obj || obj->type != J_OBJ)
        return NULL;
    for (int i = 0; i < obj->n; i++)
        if (!strcmp(obj->keys[i], key))
            return &obj->items[i];
    return NULL;
}
