/* cluster/json.h — a small, strict JSON parser (RFC 8259) for cluster
 * configurations: one tree of values, freed at once. Rejects trailing
 * garbage, control characters in strings, bad escapes, depth > 64.
 * Owns: the tree. Knows nothing of the cluster schema. */
#ifndef DARTER_CLUSTER_JSON_H
#define DARTER_CLUSTER_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum json_type { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct json {
    enum json_type type;
    bool b;
    double num;
    bool is_int;
    long long i;
    char *s;              /* J_STR (NUL-terminated; may hold \u0000 cut short) */
    size_t slen;
    int n;                /* J_ARR / J_OBJ: children */
    struct json *items;   /* [n] */
    char **keys;          /* J_OBJ: [n] */
};

/* Parse `len` bytes. NULL on error with a message in err. */
struct json *json_parse(const char *p, size_t len, char *err, size_t errlen);
void json_free(struct json *v);
/* Object member by key, or NULL. */
const struct json *json_get(const struct json *obj, const char *key);

#endif
