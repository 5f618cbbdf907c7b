/* server/commands.c — the command registry: every family's table gathered
 * into one case-insensitive index at startup (read-only afterwards), key
 * extraction from first/last/step (or a family's getkeys), iteration for
 * COMMAND. Owns no command behaviour. */
#include "server/server.h"
#include "cluster/slot.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define INDEX_SIZE 1024 /* power of two, > 2x the number of commands */

static const struct command *family_tables[] = {
    string_commands, keys_commands, conn_commands, server_commands, command_commands, config_commands,
    function_commands,
    bitmap_commands,
    multi_commands,
    pubsub_commands,
    cluster_commands,
    dump_commands,
    script_commands,
    monitor_commands,
    list_commands,
    hash_commands,
    set_commands,
    sort_commands,
    zset_commands,
    geo_commands,
    hll_commands,
    stream_commands,
};

static const struct command *index_slots[INDEX_SIZE];
static int ncommands;

static uint32_t name_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint32_t)tolower((unsigned char)s[i]);
        h *= 16777619u;
    }
    return h;
}

static bool name_eq(const char *name, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!name[i] || name[i] != tolower((unsigned char)s[i]))
            return false;
    return name[len] == 0;
}

static void index_add(const struct command *cmd)
{
    uint32_t i = name_hash(cmd->name, strlen(cmd->name)) & (INDEX_SIZE - 1);
    while (index_slots[i])
        i = (i + 1) & (INDEX_SIZE - 1);
    index_slots[i] = cmd;
    ncommands++;
}

void commands_init(void)
{
    for (size_t f = 0; f < sizeof(family_tables) / sizeof(family_tables[0]); f++)
        for (const struct command *c = family_tables[f]; c->name; c++)
            index_add(c);
}

const struct command *command_find(const char *name, size_t len)
{
    if (len > 64)
        return NULL;
    uint32_t i = name_hash(name, len) & (INDEX_SIZE - 1);
    while (index_slots[i]) {
        if (name_eq(index_slots[i]->name, name, len))
            return index_slots[i];
        i = (i + 1) & (INDEX_SIZE - 1);
    }
    return NULL;
}

const struct command *command_find_sub(const struct command *parent, const char *name, size_t len)
{
    size_t plen = strlen(parent->name);
    for (const struct command *c = parent->subcmds; c && c->name; c++) {
        /* subcommand names are "parent|sub" */
        if (name_eq(c->name + plen + 1, name, len))
            return c;
    }
    return NULL;
}

int command_keys(const struct command *cmd, struct arg *argv, int argc, int *keys, int max)
{
    if (cmd->getkeys)
        return cmd->getkeys(argv, argc, keys, max);
    if (cmd->first <= 0)
        return 0;
    int last = cmd->last < 0 ? argc + cmd->last : cmd->last;
    int n = 0;
    for (int i = cmd->first; i <= last && i < argc && n < max; i += cmd->step)
        keys[n++] = i;
    return n;
}

void command_foreach(command_visit_fn fn, void *arg)
{
    for (size_t f = 0; f < sizeof(family_tables) / sizeof(family_tables[0]); f++)
        for (const struct command *c = family_tables[f]; c->name; c++)
            fn(c, arg);
}

int command_count(void) { return ncommands; }
