/* tests/integration/test_geo.c — the geo commands end to end: replies
 * compared byte for byte with a real redis-server (RESP2 and RESP3) for
 * GEOADD GEOPOS GEOHASH GEODIST GEOSEARCH GEOSEARCHSTORE GEORADIUS
 * GEORADIUSBYMEMBER and the _RO forms, their errors, STORE/STOREDIST with
 * the destination on another thread than the source, the keyspace events
 * of the stores, and the order of results at equal distances under COUNT
 * (Redis's partial quicksort) against a large randomised set of searches. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define THREADS 4

static struct server srv, ref;
/* source and destination keys: on threads 0 and 2 of darter */
static char src[32], dst[32], dst2[32];

static void fini(void)
{
    server_stop(&srv);
    server_stop(&ref);
}

/* ---------- the same commands to both servers ---------- */

/* "$S", "$D" and "$E" in a line stand for src, dst and dst2. */
static void expand(const char *line, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = line; *p && n + 32 < cap; p++) {
        if (p[0] == '$' && (p[1] == 'S' || p[1] == 'D' || p[1] == 'E')) {
            const char *k = p[1] == 'S' ? src : p[1] == 'D' ? dst : dst2;
            n += (size_t)snprintf(out + n, cap - n, "%s", k);
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = 0;
}

static void send_cmd(struct raw *r, const char *line)
{
    char buf[4096], out[8192];
    expand(line, buf, sizeof(buf));
    const char *argv[128];
    int argc = 0;
    for (char *tok = strtok(buf, " "); tok && argc < 128; tok = strtok(NULL, " "))
        argv[argc++] = tok;
    int n = snprintf(out, sizeof(out), "*%d\r\n", argc);
    for (int i = 0; i < argc; i++)
        n += snprintf(out + n, sizeof(out) - (size_t)n, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
    cr_assert(raw_send(r, out, (size_t)n));
}

static void compare_replies(struct raw *d, struct raw *rr, const char *what)
{
    size_t dl, rl;
    char *a = raw_reply(d, &dl);
    char *b = raw_reply(rr, &rl);
    cr_assert_not_null(a, "darter: no reply to %s", what);
    cr_assert_not_null(b, "redis: no reply to %s", what);
    char da[4096];
    snprintf(da, sizeof(da), "%s", printable(a, dl));
    cr_assert(dl == rl && memcmp(a, b, dl) == 0, "%s\n darter: %s\n redis:  %s", what, da, printable(b, rl));
    free(a);
    free(b);
}

static void compare_one(struct raw *d, struct raw *rr, const char *line)
{
    send_cmd(d, line);
    send_cmd(rr, line);
    compare_replies(d, rr, line);
}

static void compare(struct raw *d, struct raw *rr, const char *const *cmds)
{
    for (int i = 0; cmds[i]; i++)
        compare_one(d, rr, cmds[i]);
}

static void start_both(void)
{
    key_on_thread(src, sizeof(src), "geo", 0, THREADS, 0);
    key_on_thread(dst, sizeof(dst), "dst", 2, THREADS, 0);
    key_on_thread(dst2, sizeof(dst2), "dst", 0, THREADS, 0);
    server_start(&srv, THREADS, NULL);
    redis_start(&ref, NULL);
}

static void hello3(struct raw *d, struct raw *r)
{
    send_cmd(d, "HELLO 3");
    send_cmd(r, "HELLO 3");
    size_t l;
    free(raw_reply(d, &l));
    free(raw_reply(r, &l));
}

static const char *const script[] = {
    "FLUSHALL",
    /* GEOADD */
    "GEOADD $S 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
    "GEOADD $S 13.583333 37.316667 Agrigento 12.758489 38.788135 edge1 17.241510 38.788135 edge2",
    "GEOADD $S NX 13.361389 38.115556 Palermo 14 37 NewOne",
    "GEOADD $S XX CH 13.4 38.1 Palermo 1 1 notthere",
    "GEOADD $S CH NX 13.4 38.1 Palermo",
    "GEOADD $S NX XX 1 1 a", "GEOADD $S 1 1", "GEOADD $S 200 1 a", "GEOADD $S 1 86 a", "GEOADD $S x 1 a",
    "GEOADD $S 1 x a", "GEOADD $S CH", "GEOADD $S 1 1 a 2", "GEOADD nokey XX 1 1 a", "EXISTS nokey",
    "GEOADD $S -180 -85.05112878 southwest 180 85.05112878 northeast 0 0 origin",
    "ZRANGE $S 0 -1 WITHSCORES",
    /* GEOPOS GEOHASH GEODIST */
    "GEOPOS $S Palermo Catania NonExisting southwest northeast origin", "GEOPOS nokey a b", "GEOPOS $S",
    "GEOHASH $S Palermo Catania nope southwest northeast origin", "GEOHASH nokey a", "GEOHASH $S",
    "GEODIST $S Palermo Catania", "GEODIST $S Palermo Catania km", "GEODIST $S Palermo Catania mi",
    "GEODIST $S Palermo Catania ft", "GEODIST $S Palermo Catania M", "GEODIST $S Palermo Palermo",
    "GEODIST $S southwest northeast", "GEODIST $S Palermo nope", "GEODIST nokey a b",
    "GEODIST $S Palermo Catania yards", "GEODIST $S Palermo Catania km extra",
    /* GEORADIUS and friends */
    "GEORADIUS $S 15 37 200 km WITHDIST WITHCOORD WITHHASH ASC",
    "GEORADIUS $S 15 37 200 km", "GEORADIUS $S 15 37 200 km DESC COUNT 2",
    "GEORADIUS $S 15 37 200 km COUNT 2 ANY", "GEORADIUS $S 15 37 200 km COUNT 2 ANY DESC WITHDIST",
    "GEORADIUS $S 15 37 200000 m WITHDIST", "GEORADIUS $S 15 37 100 mi WITHDIST",
    "GEORADIUS $S 15 37 700000 ft WITHDIST", "GEORADIUS $S 0 0 0 km", "GEORADIUS $S 0 0 1 m WITHCOORD",
    "GEORADIUS $S 15 37 200 km ANY", "GEORADIUS $S 15 37 -1 km", "GEORADIUS $S 15 37 x km",
    "GEORADIUS $S 15 37 200 yards", "GEORADIUS $S 15 37 200 km COUNT 0", "GEORADIUS $S 15 37 200 km COUNT -3",
    "GEORADIUS $S 15 37 200 km COUNT x", "GEORADIUS $S 15 37 200 km COUNT", "GEORADIUS $S 15 37 200 km FOO",
    "GEORADIUS $S 181 37 200 km", "GEORADIUS $S 15 x 200 km", "GEORADIUS nokey 15 37 200 km",
    "GEORADIUSBYMEMBER $S Agrigento 100 km WITHDIST", "GEORADIUSBYMEMBER $S Agrigento 100 km COUNT 1 DESC",
    "GEORADIUSBYMEMBER $S nope 100 km", "GEORADIUSBYMEMBER nokey nope 100 km",
    "GEORADIUSBYMEMBER $S Agrigento x km", "GEORADIUSBYMEMBER $S Agrigento 100 parsecs",
    "GEORADIUS_RO $S 15 37 200 km WITHDIST ASC", "GEORADIUS_RO $S 15 37 200 km STORE x",
    "GEORADIUS_RO $S 15 37 200 km STOREDIST x", "GEORADIUSBYMEMBER_RO $S Palermo 200 km COUNT 1 WITHCOORD",
    "GEORADIUSBYMEMBER_RO $S Palermo 200 km STORE x", "GEORADIUSBYMEMBER_RO nokey Palermo 200 km",
    /* GEOSEARCH */
    "GEOSEARCH $S FROMLONLAT 15 37 BYRADIUS 200 km ASC WITHDIST WITHCOORD WITHHASH",
    "GEOSEARCH $S FROMMEMBER Palermo BYBOX 400 400 km DESC WITHDIST",
    "GEOSEARCH $S FROMLONLAT 15 37 BYBOX 400 400 km", "GEOSEARCH $S FROMLONLAT 15 37 BYBOX 400 100 mi COUNT 3",
    "GEOSEARCH $S FROMLONLAT 179 80 BYBOX 1000 10000 km WITHCOORD",
    "GEOSEARCH $S FROMLONLAT 15 37 BYRADIUS 200 km COUNT 2 ANY",
    "GEOSEARCH $S FROMLONLAT 15 37 FROMMEMBER Palermo BYBOX 400 400 km",
    "GEOSEARCH $S FROMMEMBER Palermo FROMLONLAT 15 37 BYBOX 400 400 km",
    "GEOSEARCH $S BYBOX 400 400 km", "GEOSEARCH $S FROMLONLAT 15 37",
    "GEOSEARCH $S FROMLONLAT 15 37 BYRADIUS 10 km BYBOX 1 1 km",
    "GEOSEARCH $S FROMLONLAT 15 37 BYBOX 1 1 km BYRADIUS 10 km", "GEOSEARCH $S FROMMEMBER nope BYRADIUS 1 km",
    "GEOSEARCH $S FROMLONLAT 15 37 BYRADIUS 200 km STORE x",
    "GEOSEARCH $S FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST",
    "GEOSEARCH $S FROMLONLAT 15 37 BYBOX -1 1 km", "GEOSEARCH $S FROMLONLAT 15 37 BYBOX 1 x km",
    "GEOSEARCH $S FROMLONLAT 15 37 BYBOX 1 1 furlongs", "GEOSEARCH $S FROMLONLAT 15 37 BYRADIUS 200 km ANY",
    "GEOSEARCH $S FROMLONLAT 15 95 BYRADIUS 200 km", "GEOSEARCH $S FROMLONLAT 15 37 BYRADIUS 200",
    "GEOSEARCH nokey FROMMEMBER x BYRADIUS 1 km", "GEOSEARCH nokey FROMLONLAT 0 0 BYRADIUS 1 km",
    /* stores: the source on thread 0, the destination on thread 2 ($D) or 0 ($E) */
    "GEOSEARCHSTORE $D $S FROMLONLAT 15 37 BYRADIUS 200 km", "ZRANGE $D 0 -1 WITHSCORES",
    "GEOSEARCHSTORE $D $S FROMLONLAT 15 37 BYRADIUS 200 km STOREDIST COUNT 2 DESC", "ZRANGE $D 0 -1 WITHSCORES",
    "GEOSEARCHSTORE $E $S FROMMEMBER Palermo BYBOX 300 300 km STOREDIST", "ZRANGE $E 0 -1 WITHSCORES",
    "GEOSEARCHSTORE $D $S FROMLONLAT 15 37 BYRADIUS 200 km WITHDIST",
    "GEOSEARCHSTORE $D $S FROMLONLAT 15 37 BYRADIUS 200 km WITHHASH",
    "GEOSEARCHSTORE $D $S FROMMEMBER nope BYRADIUS 200 km", "GEOSEARCHSTORE $D $S BYRADIUS 200 km",
    "GEOSEARCHSTORE $D $S FROMLONLAT 15 37 BYRADIUS 200 km STORE $E", "EXISTS $D",
    "GEOSEARCHSTORE $D $S FROMLONLAT 0 0 BYRADIUS 1 m", "EXISTS $D",
    "GEOSEARCHSTORE $D $S FROMLONLAT 15 37 BYRADIUS 200 km ANY COUNT 1", "ZRANGE $D 0 -1",
    "GEOSEARCHSTORE $D nokey FROMLONLAT 15 37 BYRADIUS 200 km", "EXISTS $D",
    "GEORADIUS $S 15 37 200 km STORE $D", "ZRANGE $D 0 -1 WITHSCORES",
    "GEORADIUS $S 15 37 200 km STOREDIST $D", "ZRANGE $D 0 -1 WITHSCORES",
    "GEORADIUS $S 15 37 200 km STORE $E STOREDIST $D COUNT 2", "ZRANGE $D 0 -1 WITHSCORES", "EXISTS $E",
    "GEORADIUS $S 15 37 200 km STOREDIST $D STORE $E ASC", "ZRANGE $E 0 -1 WITHSCORES",
    "GEORADIUS $S 15 37 200 km STORE $D WITHDIST", "GEORADIUS $S 15 37 200 km STORE $D WITHCOORD",
    "GEORADIUS $S 15 37 200 km STORE", "GEORADIUS $S 0 0 1 m STORE $D", "EXISTS $D",
    "GEORADIUSBYMEMBER $S Palermo 200 km STORE $D", "ZRANGE $D 0 -1 WITHSCORES",
    "GEORADIUSBYMEMBER $S Palermo 200 km STOREDIST $D DESC COUNT 2", "ZRANGE $D 0 -1 WITHSCORES",
    "GEORADIUSBYMEMBER $S nope 200 km STORE $D", "ZCARD $D",
    "GEORADIUSBYMEMBER nokey nope 200 km STORE $D", "EXISTS $D",
    "GEORADIUS nokey 0 0 1 km STORE $E", "EXISTS $E",
    /* wrong types */
    "SET str x", "GEOADD str 1 1 a", "GEOPOS str a", "GEOHASH str a", "GEODIST str a b",
    "GEORADIUS str 1 1 1 km", "GEORADIUS str 1 1 1 km STORE $D", "GEORADIUSBYMEMBER_RO str a 1 km",
    "GEOSEARCH str FROMLONLAT 1 1 BYRADIUS 1 km", "GEOSEARCHSTORE $D str FROMLONLAT 1 1 BYRADIUS 1 km",
    "SET $D x", "GEOSEARCHSTORE $D $S FROMLONLAT 15 37 BYRADIUS 200 km", "TYPE $D",
    "SET $D x", "GEORADIUS $S 15 37 200 km STORE $D", "TYPE $D",
    "GEOSEARCHSTORE $D $S FROMLONLAT 15 37 BYRADIUS 2 m", "EXISTS $D",
    NULL,
};

Test(geo, replies_match_redis_resp2_and_resp3, .fini = fini)
{
    start_both();
    for (int resp = 2; resp <= 3; resp++) {
        struct raw *d = raw_connect(srv.port), *r = raw_connect(ref.port);
        if (resp == 3)
            hello3(d, r);
        compare(d, r, script);
        raw_close(d);
        raw_close(r);
    }
    server_stop_clean(&srv);
}

/* ---------- many members: skiplist sources, equal distances, COUNT ----------
 * Members placed on a few exact spots so that many share a distance from
 * the centre: with COUNT, Redis orders them by its partial quicksort and
 * without COUNT by a stable sort; both must come out the same here. */

static void add_points(struct raw *d, struct raw *r, const char *key, int n, int spots, unsigned seed)
{
    srand(seed);
    double lon[16], lat[16];
    for (int s = 0; s < spots; s++) {
        lon[s] = 13.0 + (rand() % 2000) / 1000.0;
        lat[s] = 37.0 + (rand() % 2000) / 1000.0;
    }
    for (int i = 0; i < n; i += 10) {
        char line[4096];
        int len = snprintf(line, sizeof(line), "GEOADD %s", key);
        for (int j = i; j < i + 10 && j < n; j++) {
            int s = rand() % spots;
            len += snprintf(line + len, sizeof(line) - (size_t)len, " %.6f %.6f m%d", lon[s], lat[s], j);
        }
        compare_one(d, r, line);
    }
}

static void search_many(struct raw *d, struct raw *r, unsigned seed)
{
    static const char *const sorts[] = {"", " ASC", " DESC"};
    srand(seed);
    for (int i = 0; i < 120; i++) {
        char line[512];
        double lon = 13.0 + (rand() % 2000) / 1000.0, lat = 37.0 + (rand() % 2000) / 1000.0;
        int count = 1 + rand() % 60, radius = 20 + rand() % 300;
        const char *sort = sorts[rand() % 3];
        switch (i % 4) {
        case 0:
            snprintf(line, sizeof(line), "GEOSEARCH $S FROMLONLAT %.3f %.3f BYRADIUS %d km COUNT %d%s WITHDIST", lon,
                     lat, radius, count, sort);
            break;
        case 1:
            snprintf(line, sizeof(line), "GEOSEARCH $S FROMLONLAT %.3f %.3f BYBOX %d %d km COUNT %d%s", lon, lat,
                     radius, radius / 2 + 10, count, sort);
            break;
        case 2:
            snprintf(line, sizeof(line), "GEORADIUSBYMEMBER $S m%d %d km COUNT %d%s", rand() % 300, radius, count,
                     sort);
            break;
        default:
            snprintf(line, sizeof(line), "GEOSEARCH $S FROMMEMBER m%d BYRADIUS %d km%s", rand() % 300, radius,
                     *sort ? sort : " ASC");
            break;
        }
        compare_one(d, r, line);
        if (i % 10 == 0) {
            snprintf(line, sizeof(line), "GEORADIUS $S %.3f %.3f %d km STOREDIST $D COUNT %d%s", lon, lat, radius,
                     count, sort);
            compare_one(d, r, line);
            compare_one(d, r, "ZRANGE $D 0 -1 WITHSCORES");
            compare_one(d, r, "OBJECT ENCODING $D");
        }
    }
}

Test(geo, equal_distances_with_count_match_redis, .fini = fini)
{
    start_both();
    struct raw *d = raw_connect(srv.port), *r = raw_connect(ref.port);
    /* a listpack source (few members) and a skiplist one (many) */
    add_points(d, r, "$S", 100, 4, 7);
    compare_one(d, r, "OBJECT ENCODING $S");
    search_many(d, r, 11);
    add_points(d, r, "$S", 300, 6, 13);
    compare_one(d, r, "OBJECT ENCODING $S");
    search_many(d, r, 17);
    hello3(d, r);
    search_many(d, r, 19);
    raw_close(d);
    raw_close(r);
    server_stop_clean(&srv);
}

/* ---------- keyspace events of the stores ---------- */

static const char *const store_events[] = {
    "GEOADD $S 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
    "GEOADD $S XX 13.361389 38.115556 Palermo",
    "GEOSEARCHSTORE $D $S FROMLONLAT 15 37 BYRADIUS 200 km",
    "GEORADIUS $S 15 37 200 km STORE $D",
    "GEORADIUSBYMEMBER $S Palermo 10 km STOREDIST $E",
    "GEOSEARCHSTORE $D $S FROMLONLAT 0 0 BYRADIUS 1 km",
    "GEORADIUS $S 15 37 200 km STORE $D",
    "GEORADIUS nokey 15 37 200 km STORE $D",
    "PING",
    NULL,
};

Test(geo, store_events_match_redis, .fini = fini)
{
    start_both();
    struct raw *sd = raw_connect(srv.port), *sr = raw_connect(ref.port);
    struct raw *d = raw_connect(srv.port), *r = raw_connect(ref.port);
    compare_one(d, r, "CONFIG SET notify-keyspace-events KEA");
    compare_one(sd, sr, "PSUBSCRIBE __key*@0__:*");
    compare(d, r, store_events);
    /* every event both servers sent, in order, up to the PING's absence:
     * count them on redis and read as many from darter */
    send_cmd(sd, "PING");
    send_cmd(sr, "PING");
    for (;;) {
        size_t dl, rl;
        char *a = raw_reply(sd, &dl), *b = raw_reply(sr, &rl);
        cr_assert_not_null(a);
        cr_assert_not_null(b);
        char da[2048];
        snprintf(da, sizeof(da), "%s", printable(a, dl));
        cr_assert(dl == rl && memcmp(a, b, dl) == 0, "event\n darter: %s\n redis:  %s", da, printable(b, rl));
        bool pong = strstr(b, "pong") != NULL;
        free(a);
        free(b);
        if (pong)
            break;
    }
    raw_close(sd);
    raw_close(sr);
    raw_close(d);
    raw_close(r);
    server_stop_clean(&srv);
}
