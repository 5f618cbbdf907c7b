/* cluster/config.h — the cluster configuration: one immutable value per
 * version (shards with slot ranges, master and replicas; per node id, ip,
 * port, role, health, config epoch; slot migrations). Built from
 * Dragonfly-schema JSON (CLUSTER SETCONFIG / DFLYCLUSTER CONFIG) or derived
 * from the current one by a topology command; validated whole (nothing
 * changes on error); persisted atomically in cluster-config-file.
 * Each worker holds a reference in w->cluster; the last holder frees it.
 * Owns: the model, its JSON form, the node id, the file. */
#ifndef DARTER_CLUSTER_CONFIG_H
#define DARTER_CLUSTER_CONFIG_H

#include "cluster/slot.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CL_ID_MAX 64

enum cl_health { CL_ONLINE = 0, CL_LOADING, CL_FAIL, CL_HIDDEN };

struct cl_node {
    char id[CL_ID_MAX + 1];
    char ip[64];
    int port;
    int health;
    bool master;
    int shard;
    uint64_t epoch;
};

struct cl_range {
    int start, end;
};

struct cl_shard {
    int master;          /* node index */
    int nreplicas;
    int *replicas;       /* node indices */
    int nranges;
    struct cl_range *ranges;
};

struct cl_migration {
    int start, end;      /* slot range */
    int from, to;        /* node indices */
};

struct cl_config {
    _Atomic int refs;
    uint64_t version;
    char myid[CL_ID_MAX + 1];
    int myself;          /* node index, -1 when not in the config */
    int nnodes;
    struct cl_node *nodes;
    int nshards;
    struct cl_shard *shards;
    int nmig;
    struct cl_migration *migs;
    /* derived */
    int16_t slot_shard[CLUSTER_SLOTS];   /* -1: unassigned */
    int16_t migrating_to[CLUSTER_SLOTS]; /* node index when myself migrates the slot */
    int16_t importing_from[CLUSTER_SLOTS];
    int slots_assigned;
    int slots_fail;      /* assigned to a master whose health is fail */
};

const char *cl_health_name(int h);
int cl_health_parse(const char *s); /* -1 if unknown */

/* A deep copy (refs = 0). */
struct cl_config *cl_copy(const struct cl_config *c);
void cl_free(struct cl_config *c);
/* Recompute derived fields and validate. full: every slot must be owned.
 * NULL when valid, else the reason (static). */
const char *cl_finalize(struct cl_config *c, bool full, char *err, size_t errlen);
/* Build from Dragonfly's JSON shard array (or the file's object form). */
struct cl_config *cl_from_json(const char *p, size_t len, const char *myid, char *err, size_t errlen);
/* The file form: {"myid":..., "version":..., "shards":[...]} (malloc'd). */
char *cl_to_json(const struct cl_config *c, size_t *len);
/* A node-only config: myself as a master without slots. */
struct cl_config *cl_new_self(const char *myid, const char *ip, int port);
int cl_find_node(const struct cl_config *c, const char *id, size_t len);

/* Write the config to the cluster config file (temp + fsync + rename + fsync
 * dir). false on error (err set). */
bool cl_persist(const struct cl_config *c, char *err, size_t errlen);
/* main.c hook: load or create the node id and config; give every worker a
 * reference. No-op when cluster-enabled is no. */
struct config;
void cluster_init(const struct config *cfg);
/* Swap this worker's config for `next` (which holds a reference for it). */
struct worker;
void cl_install(struct worker *w, struct cl_config *next);
void cl_release(struct cl_config *c);
void cl_random_id(char out[41]);

#endif
