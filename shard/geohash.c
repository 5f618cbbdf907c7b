/* shard/geohash.c — geohash cells, neighbours, search areas and distances
 * (see geohash.h). Every floating-point expression is evaluated in the same
 * order as Redis 7.0 so scores, coordinates and distances are identical. */
#include "shard/geohash.h"

#include <math.h>
#include <stdio.h>

#define D_R (M_PI / 180.0)
#define EARTH_RADIUS_IN_METERS 6372797.560856
#define MERCATOR_MAX 20037726.37

static inline double deg_rad(double ang) { return ang * D_R; }
static inline double rad_deg(double ang) { return ang / D_R; }

/* ---------- bit interleaving: lat in even bits, lon in odd bits ---------- */

static uint64_t spread32(uint32_t v)
{
    uint64_t x = v;
    x = (x | (x << 16)) & UINT64_C(0x0000FFFF0000FFFF);
    x = (x | (x << 8)) & UINT64_C(0x00FF00FF00FF00FF);
    x = (x | (x << 4)) & UINT64_C(0x0F0F0F0F0F0F0F0F);
    x = (x | (x << 2)) & UINT64_C(0x3333333333333333);
    x = (x | (x << 1)) & UINT64_C(0x5555555555555555);
    return x;
}

static uint32_t squash32(uint64_t x)
{
    x &= UINT64_C(0x5555555555555555);
    x = (x | (x >> 1)) & UINT64_C(0x3333333333333333);
    x = (x | (x >> 2)) & UINT64_C(0x0F0F0F0F0F0F0F0F);
    x = (x | (x >> 4)) & UINT64_C(0x00FF00FF00FF00FF);
    x = (x | (x >> 8)) & UINT64_C(0x0000FFFF0000FFFF);
    x = (x | (x >> 16)) & UINT64_C(0x00000000FFFFFFFF);
    return (uint32_t)x;
}

static const struct geo_range WGS84_LON = {GEO_LONG_MIN, GEO_LONG_MAX};
static const struct geo_range WGS84_LAT = {GEO_LAT_MIN, GEO_LAT_MAX};

/* ---------- cells ---------- */

bool geohash_encode(const struct geo_range *lon_r, const struct geo_range *lat_r, double lon, double lat,
                    uint8_t step, struct geohash *out)
{
    if (step > 32 || step == 0 || (lat_r->min == 0 && lat_r->max == 0) || (lon_r->min == 0 && lon_r->max == 0))
        return false;
    if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN)
        return false;
    out->bits = 0;
    out->step = step;
    if (lat < lat_r->min || lat > lat_r->max || lon < lon_r->min || lon > lon_r->max)
        return false;
    double lat_offset = (lat - lat_r->min) / (lat_r->max - lat_r->min);
    double lon_offset = (lon - lon_r->min) / (lon_r->max - lon_r->min);
    lat_offset *= (double)(UINT64_C(1) << step);
    lon_offset *= (double)(UINT64_C(1) << step);
    out->bits = spread32((uint32_t)lat_offset) | (spread32((uint32_t)lon_offset) << 1);
    return true;
}

bool geohash_encode_wgs84(double lon, double lat, uint8_t step, struct geohash *out)
{
    return geohash_encode(&WGS84_LON, &WGS84_LAT, lon, lat, step, out);
}

bool geohash_decode(struct geo_range lon_r, struct geo_range lat_r, struct geohash h, struct geo_area *area)
{
    if (geohash_is_zero(h) || (lat_r.min == 0 && lat_r.max == 0) || (lon_r.min == 0 && lon_r.max == 0))
        return false;
    area->hash = h;
    uint32_t ilat = squash32(h.bits), ilon = squash32(h.bits >> 1);
    double lat_scale = lat_r.max - lat_r.min, lon_scale = lon_r.max - lon_r.min;
    double cells = (double)(UINT64_C(1) << h.step);
    area->lat.min = lat_r.min + (ilat * 1.0 / cells) * lat_scale;
    area->lat.max = lat_r.min + ((ilat + 1) * 1.0 / cells) * lat_scale;
    area->lon.min = lon_r.min + (ilon * 1.0 / cells) * lon_scale;
    area->lon.max = lon_r.min + ((ilon + 1) * 1.0 / cells) * lon_scale;
    return true;
}

bool geohash_decode_wgs84(struct geohash h, struct geo_area *area)
{
    return geohash_decode(WGS84_LON, WGS84_LAT, h, area);
}

static double clamp(double v, double lo, double hi) { return v > hi ? hi : v < lo ? lo : v; }

bool geohash_decode_to_lonlat(struct geohash h, double xy[2])
{
    struct geo_area a;
    if (!geohash_decode_wgs84(h, &a))
        return false;
    xy[0] = clamp((a.lon.min + a.lon.max) / 2, GEO_LONG_MIN, GEO_LONG_MAX);
    xy[1] = clamp((a.lat.min + a.lat.max) / 2, GEO_LAT_MIN, GEO_LAT_MAX);
    return true;
}

/* Move a cell by d (-1, 0, +1) along one axis: the axis's bits are the
 * odd (lon) or even (lat) ones; carries must skip the other axis's bits. */
static void move_axis(struct geohash *h, int d, bool lon)
{
    if (!d)
        return;
    const uint64_t odd = UINT64_C(0xaaaaaaaaaaaaaaaa), even = UINT64_C(0x5555555555555555);
    uint64_t mine = h->bits & (lon ? odd : even), other = h->bits & (lon ? even : odd);
    unsigned shift = 64 - h->step * 2;
    uint64_t filler = (lon ? even : odd) >> shift; /* the other axis's bits in use */
    if (d > 0)
        mine = mine + (filler + 1);
    else
        mine = (mine | filler) - (filler + 1);
    mine &= (lon ? odd : even) >> shift;
    h->bits = mine | other;
}

static struct geohash moved(const struct geohash *h, int dx, int dy)
{
    struct geohash n = *h;
    move_axis(&n, dx, true);
    move_axis(&n, dy, false);
    return n;
}

void geohash_neighbors(const struct geohash *h, struct geo_neighbors *n)
{
    n->east = moved(h, 1, 0);
    n->west = moved(h, -1, 0);
    n->south = moved(h, 0, -1);
    n->north = moved(h, 0, 1);
    n->north_west = moved(h, -1, 1);
    n->north_east = moved(h, 1, 1);
    n->south_east = moved(h, 1, -1);
    n->south_west = moved(h, -1, -1);
}

uint64_t geohash_align52(struct geohash h) { return h.bits << (52 - h.step * 2); }

/* ---------- scores ---------- */

uint64_t geo_score_encode(double lon, double lat)
{
    struct geohash h;
    geohash_encode_wgs84(lon, lat, GEO_STEP_MAX, &h);
    return geohash_align52(h);
}

bool geo_score_decode(double score, double xy[2])
{
    struct geohash h = {(uint64_t)score, GEO_STEP_MAX};
    return geohash_decode_to_lonlat(h, xy);
}

void geo_score_to_geohash(double score, char out[12])
{
    static const char alphabet[] = "0123456789bcdefghjkmnpqrstuvwxyz";
    double xy[2];
    struct geohash h = {0, 0};
    if (geo_score_decode(score, xy)) {
        /* the standard geohash covers latitudes -90..90 */
        struct geo_range lon = {-180, 180}, lat = {-90, 90};
        geohash_encode(&lon, &lat, xy[0], xy[1], GEO_STEP_MAX, &h);
    }
    for (int i = 0; i < 11; i++) {
        int idx = i == 10 ? 0 : (int)((h.bits >> (52 - ((i + 1) * 5))) & 0x1f);
        out[i] = alphabet[idx];
    }
    out[11] = 0;
}

/* ---------- distances ---------- */

static double lat_distance(double lat1d, double lat2d)
{
    return EARTH_RADIUS_IN_METERS * fabs(deg_rad(lat2d) - deg_rad(lat1d));
}

double geo_distance(double lon1d, double lat1d, double lon2d, double lat2d)
{
    double lon1r = deg_rad(lon1d), lon2r = deg_rad(lon2d);
    double v = sin((lon2r - lon1r) / 2);
    if (v == 0.0) /* same longitude: along the meridian */
        return lat_distance(lat1d, lat2d);
    double lat1r = deg_rad(lat1d), lat2r = deg_rad(lat2d);
    double u = sin((lat2r - lat1r) / 2);
    double a = u * u + cos(lat1r) * cos(lat2r) * v * v;
    return 2.0 * EARTH_RADIUS_IN_METERS * asin(sqrt(a));
}

/* ---------- searches ---------- */

static uint8_t steps_for_radius(double range_meters, double lat)
{
    if (range_meters == 0)
        return 26;
    int step = 1;
    while (range_meters < MERCATOR_MAX) {
        range_meters *= 2;
        step++;
    }
    step -= 2; /* keep the range inside most of the base cases */
    if (lat > 66 || lat < -66) {
        step--;
        if (lat > 80 || lat < -80)
            step--;
    }
    if (step < 1)
        step = 1;
    if (step > 26)
        step = 26;
    return (uint8_t)step;
}

static void shape_bounds(struct geo_shape *s)
{
    double lon = s->xy[0], lat = s->xy[1];
    double height = s->conversion * (s->type == GEO_SHAPE_CIRCLE ? s->radius : s->height / 2);
    double width = s->conversion * (s->type == GEO_SHAPE_CIRCLE ? s->radius : s->width / 2);
    const double lat_delta = rad_deg(height / EARTH_RADIUS_IN_METERS);
    const double lon_delta_top = rad_deg(width / EARTH_RADIUS_IN_METERS / cos(deg_rad(lat + lat_delta)));
    const double lon_delta_bottom = rad_deg(width / EARTH_RADIUS_IN_METERS / cos(deg_rad(lat - lat_delta)));
    /* the hemispheres widen in opposite directions */
    bool south = lat < 0;
    s->bounds[0] = south ? lon - lon_delta_bottom : lon - lon_delta_top;
    s->bounds[2] = south ? lon + lon_delta_bottom : lon + lon_delta_top;
    s->bounds[1] = lat - lat_delta;
    s->bounds[3] = lat + lat_delta;
}

struct search_cells {
    struct geohash hash;
    struct geo_neighbors nb;
    struct geo_area area;
};

static void cells_at(const struct geo_shape *s, uint8_t steps, struct search_cells *c)
{
    geohash_encode_wgs84(s->xy[0], s->xy[1], steps, &c->hash);
    geohash_neighbors(&c->hash, &c->nb);
    geohash_decode_wgs84(c->hash, &c->area);
}

static void zero3(struct geohash *a, struct geohash *b, struct geohash *c)
{
    *a = *b = *c = (struct geohash){0, 0};
}

int geo_shape_cells(struct geo_shape *s, struct geohash cells[9])
{
    shape_bounds(s);
    double min_lon = s->bounds[0], min_lat = s->bounds[1], max_lon = s->bounds[2], max_lat = s->bounds[3];
    double radius = s->type == GEO_SHAPE_CIRCLE
                        ? s->radius
                        : sqrt((s->width / 2) * (s->width / 2) + (s->height / 2) * (s->height / 2));
    radius *= s->conversion;
    uint8_t steps = steps_for_radius(radius, s->xy[1]);
    struct search_cells c;
    cells_at(s, steps, &c);

    /* a neighbour that does not reach the shape's bounds: one step coarser */
    struct geo_area n, so, e, w;
    geohash_decode_wgs84(c.nb.north, &n);
    geohash_decode_wgs84(c.nb.south, &so);
    geohash_decode_wgs84(c.nb.east, &e);
    geohash_decode_wgs84(c.nb.west, &w);
    bool decrease = n.lat.max < max_lat || so.lat.min > min_lat || e.lon.max < max_lon || w.lon.min > min_lon;
    if (steps > 1 && decrease) {
        steps--;
        cells_at(s, steps, &c);
    }

    /* drop the neighbours on the far side of an edge the centre cell already covers */
    if (steps >= 2) {
        if (c.area.lat.min < min_lat)
            zero3(&c.nb.south, &c.nb.south_west, &c.nb.south_east);
        if (c.area.lat.max > max_lat)
            zero3(&c.nb.north, &c.nb.north_east, &c.nb.north_west);
        if (c.area.lon.min < min_lon)
            zero3(&c.nb.west, &c.nb.south_west, &c.nb.north_west);
        if (c.area.lon.max > max_lon)
            zero3(&c.nb.east, &c.nb.south_east, &c.nb.north_east);
    }

    struct geohash all[9] = {c.hash,         c.nb.north,      c.nb.south,      c.nb.east,      c.nb.west,
                             c.nb.north_east, c.nb.north_west, c.nb.south_east, c.nb.south_west};
    int n_out = 0, last = -1;
    for (int i = 0; i < 9; i++) {
        if (geohash_is_zero(all[i]))
            continue;
        /* huge radii make neighbours repeat: skip one equal to the last scanned */
        if (last > 0 && all[i].bits == all[last].bits && all[i].step == all[last].step)
            continue;
        cells[n_out++] = all[i];
        last = i;
    }
    return n_out;
}

void geo_cell_scores(struct geohash h, uint64_t *min, uint64_t *max)
{
    *min = geohash_align52(h);
    h.bits++;
    *max = geohash_align52(h);
}

bool geo_shape_contains(const struct geo_shape *s, double score, double xy[2], double *dist)
{
    if (!geo_score_decode(score, xy))
        return false;
    if (s->type == GEO_SHAPE_CIRCLE) {
        *dist = geo_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
        return *dist <= s->radius * s->conversion;
    }
    double width_m = s->width * s->conversion, height_m = s->height * s->conversion;
    if (lat_distance(xy[1], s->xy[1]) > height_m / 2)
        return false;
    if (geo_distance(xy[0], xy[1], s->xy[0], xy[1]) > width_m / 2)
        return false;
    *dist = geo_distance(s->xy[0], s->xy[1], xy[0], xy[1]);
    return true;
}

int geo_format_distance(char *buf, double d)
{
    if (d == 0)
        return sprintf(buf, "0.0000");
    long long v = llrint(d * 10000.0);
    unsigned long long u = v < 0 ? (unsigned long long)0 - (unsigned long long)v : (unsigned long long)v;
    return sprintf(buf, "%s%llu.%04llu", v < 0 ? "-" : "", u / 10000, u % 10000);
}
