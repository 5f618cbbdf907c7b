/* server/info.c — INFO sections, gathered from every thread by message.
 * Owns: INFO formatting. */
#include "server/server.h"
