/* server/info.h — INFO and the statistics it reports, for the server
 * command families (cmd_server.c registers INFO, cmd_config.c calls
 * stats_reset for CONFIG RESETSTAT). The counting hooks the core calls are
 * declared in server.h. Owns: nothing beyond these declarations. */
#ifndef DARTER_SERVER_INFO_H
#define DARTER_SERVER_INFO_H

#include "server/server.h"

/* INFO [section ...]: a global op; every thread reports, the coordinator formats. */
extern const struct mso_ops info_ops;

/* CONFIG RESETSTAT on one thread (run in a hop on every worker). */
void stats_reset(struct worker *w);

/* Redis's bytesToHuman ("1.50M"). */
void bytes_to_human(char *out, size_t outlen, unsigned long long n);

/* Process resident set size in bytes (from /proc/self/statm), 0 if unknown. */
size_t process_rss(void);

/* 40 hex characters, fixed for the life of the process. */
const char *server_run_id(void);

/* Memory this thread's connections hold (query and reply buffers). */
size_t worker_clients_memory(struct worker *w);

#endif
