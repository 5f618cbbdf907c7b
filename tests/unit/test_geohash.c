/* tests/unit/test_geohash.c — shard/geohash.c against values redis-server
 * 7.0 gives for the same input (scores, decoded coordinates, geohash text,
 * distances and their formatting), neighbour cells, search cells and the
 * in-shape tests. */
#include "shard/geohash.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* redis-server: GEOADD Sicily 13.361389 38.115556 Palermo 15.087269 37.502669 Catania */
#define PALERMO_SCORE 3479099956230698ULL
#define CATANIA_SCORE 3479447370796909ULL

static void fmt_ld(char *buf, size_t n, double d)
{
    int len = snprintf(buf, n, "%.17Lf", (long double)d);
    while (len > 0 && buf[len - 1] == '0')
        buf[--len] = 0;
    if (len > 0 && buf[len - 1] == '.')
        buf[--len] = 0;
}

Test(geohash, scores_match_redis)
{
    cr_assert_eq(geo_score_encode(13.361389, 38.115556), PALERMO_SCORE);
    cr_assert_eq(geo_score_encode(15.087269, 37.502669), CATANIA_SCORE);
}

Test(geohash, decoded_coordinates_match_redis)
{
    double xy[2];
    char a[64], b[64];
    cr_assert(geo_score_decode((double)PALERMO_SCORE, xy));
    fmt_ld(a, sizeof(a), xy[0]);
    fmt_ld(b, sizeof(b), xy[1]);
    cr_assert_str_eq(a, "13.36138933897018433");
    cr_assert_str_eq(b, "38.11555639549629859");
    cr_assert(geo_score_decode((double)CATANIA_SCORE, xy));
    fmt_ld(a, sizeof(a), xy[0]);
    fmt_ld(b, sizeof(b), xy[1]);
    cr_assert_str_eq(a, "15.08726745843887329");
    cr_assert_str_eq(b, "37.50266842333162032");
}

Test(geohash, geohash_text_matches_redis)
{
    char s[12];
    geo_score_to_geohash((double)PALERMO_SCORE, s);
    cr_assert_str_eq(s, "sqc8b49rny0");
    geo_score_to_geohash((double)CATANIA_SCORE, s);
    cr_assert_str_eq(s, "sqdtr74hyu0");
}

Test(geohash, distance_matches_redis)
{
    double p[2], c[2];
    geo_score_decode((double)PALERMO_SCORE, p);
    geo_score_decode((double)CATANIA_SCORE, c);
    char buf[64];
    geo_format_distance(buf, geo_distance(p[0], p[1], c[0], c[1]));
    cr_assert_str_eq(buf, "166274.1516");
    geo_format_distance(buf, geo_distance(p[0], p[1], c[0], c[1]) / 1000);
    cr_assert_str_eq(buf, "166.2742");
    geo_format_distance(buf, geo_distance(15, 37, c[0], c[1]) / 1000);
    cr_assert_str_eq(buf, "56.4413");
    geo_format_distance(buf, geo_distance(15, 37, p[0], p[1]) / 1000);
    cr_assert_str_eq(buf, "190.4424");
}

Test(geohash, distance_formatting)
{
    char buf[64];
    geo_format_distance(buf, 0);
    cr_assert_str_eq(buf, "0.0000");
    geo_format_distance(buf, 0.00004);
    cr_assert_str_eq(buf, "0.0000");
    geo_format_distance(buf, 0.00016);
    cr_assert_str_eq(buf, "0.0002");
    geo_format_distance(buf, 0.7750);
    cr_assert_str_eq(buf, "0.7750");
    geo_format_distance(buf, 12.3456789);
    cr_assert_str_eq(buf, "12.3457");
    geo_format_distance(buf, 1234567.0);
    cr_assert_str_eq(buf, "1234567.0000");
}

Test(geohash, same_longitude_distance_is_meridian_arc)
{
    double d = geo_distance(10, 0, 10, 1);
    cr_assert(fabs(d - 6372797.560856 * M_PI / 180) < 1e-6);
    cr_assert_eq(geo_distance(1, 2, 1, 2), 0);
}

Test(geohash, encode_rejects_out_of_range)
{
    struct geohash h;
    cr_assert_not(geohash_encode_wgs84(181, 0, 26, &h));
    cr_assert_not(geohash_encode_wgs84(0, 85.06, 26, &h));
    cr_assert_not(geohash_encode_wgs84(0, 0, 0, &h));
    cr_assert(geohash_encode_wgs84(180, 85.05112878, 26, &h));
}

Test(geohash, decode_inside_cell)
{
    for (double lon = -179.5; lon < 180; lon += 7.3)
        for (double lat = -85; lat < 85; lat += 3.7) {
            double xy[2];
            cr_assert(geo_score_decode((double)geo_score_encode(lon, lat), xy));
            cr_assert(fabs(xy[0] - lon) < 1e-5 && fabs(xy[1] - lat) < 1e-5, "%f,%f -> %f,%f", lon, lat, xy[0],
                      xy[1]);
        }
}

Test(geohash, neighbors_are_adjacent)
{
    struct geohash h;
    cr_assert(geohash_encode_wgs84(13.36, 38.11, 10, &h));
    struct geo_neighbors n;
    geohash_neighbors(&h, &n);
    struct geo_area c, a;
    geohash_decode_wgs84(h, &c);
    geohash_decode_wgs84(n.north, &a);
    cr_assert_float_eq(a.lat.min, c.lat.max, 1e-9);
    cr_assert_float_eq(a.lon.min, c.lon.min, 1e-9);
    geohash_decode_wgs84(n.east, &a);
    cr_assert_float_eq(a.lon.min, c.lon.max, 1e-9);
    cr_assert_float_eq(a.lat.min, c.lat.min, 1e-9);
    geohash_decode_wgs84(n.south_west, &a);
    cr_assert_float_eq(a.lon.max, c.lon.min, 1e-9);
    cr_assert_float_eq(a.lat.max, c.lat.min, 1e-9);
    geohash_decode_wgs84(n.west, &a);
    cr_assert_float_eq(a.lon.max, c.lon.min, 1e-9);
}

Test(geohash, search_cells_cover_the_circle)
{
    struct geo_shape s = {.type = GEO_SHAPE_CIRCLE, .xy = {15, 37}, .conversion = 1000, .radius = 200};
    struct geohash cells[9];
    int n = geo_shape_cells(&s, cells);
    cr_assert(n >= 1 && n <= 9);
    /* both Sicilian cities fall in one of the scanned score ranges */
    uint64_t want[2] = {PALERMO_SCORE, CATANIA_SCORE};
    for (int k = 0; k < 2; k++) {
        bool found = false;
        for (int i = 0; i < n; i++) {
            uint64_t lo, hi;
            geo_cell_scores(cells[i], &lo, &hi);
            found |= want[k] >= lo && want[k] < hi;
        }
        cr_assert(found);
        double xy[2], d;
        cr_assert(geo_shape_contains(&s, (double)want[k], xy, &d));
    }
    s.radius = 100;
    double xy[2], d;
    cr_assert_not(geo_shape_contains(&s, (double)PALERMO_SCORE, xy, &d));
    cr_assert(geo_shape_contains(&s, (double)CATANIA_SCORE, xy, &d));
}

Test(geohash, box_contains)
{
    struct geo_shape s = {.type = GEO_SHAPE_BOX, .xy = {15, 37}, .conversion = 1000, .width = 400, .height = 400};
    struct geohash cells[9];
    cr_assert(geo_shape_cells(&s, cells) >= 1);
    double xy[2], d;
    cr_assert(geo_shape_contains(&s, (double)PALERMO_SCORE, xy, &d));
    char buf[32];
    geo_format_distance(buf, d / 1000);
    cr_assert_str_eq(buf, "190.4424");
    s.width = 100;
    cr_assert_not(geo_shape_contains(&s, (double)PALERMO_SCORE, xy, &d));
}

Test(geohash, huge_radius_skips_repeated_cells)
{
    struct geo_shape s = {.type = GEO_SHAPE_CIRCLE, .xy = {0, 0}, .conversion = 1000, .radius = 20000};
    struct geohash cells[9];
    int n = geo_shape_cells(&s, cells);
    for (int i = 1; i < n; i++)
        cr_assert(cells[i].bits != cells[i - 1].bits || cells[i].step != cells[i - 1].step);
}
