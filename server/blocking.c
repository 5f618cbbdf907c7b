/* server/blocking.c — clients blocked on keys (BLPOP and friends). */
#include "server/server.h"
