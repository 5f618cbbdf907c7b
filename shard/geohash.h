/* shard/geohash.h — the geohash arithmetic behind Redis's GEO commands:
 * interleaved 52-bit cell numbers over the Web-Mercator latitude range
 * (±85.05112878) used as sorted-set scores, decoding a score back to the
 * centre of its cell, neighbour cells, the cells a radius or box search
 * must scan, the haversine distance and the in-shape tests, and the
 * standard 11-character geohash text. Follows Redis 7.0's geohash.c and
 * geohash_helper.c in every floating-point step so results match.
 * Owns: pure math on plain values; must not know about keys, sorted sets,
 * RESP or threads. */
#ifndef DARTER_SHARD_GEOHASH_H
#define DARTER_SHARD_GEOHASH_H

#include <stdbool.h>
#include <stdint.h>

#define GEO_STEP_MAX 26 /* 26 * 2 = 52 bits */
#define GEO_LAT_MIN -85.05112878
#define GEO_LAT_MAX 85.05112878
#define GEO_LONG_MIN -180.0
#define GEO_LONG_MAX 180.0

struct geohash {
    uint64_t bits;
    uint8_t step;
};

struct geo_range {
    double min, max;
};

struct geo_area {
    struct geohash hash;
    struct geo_range lon, lat;
};

struct geo_neighbors {
    struct geohash north, east, west, south, north_east, south_east, north_west, south_west;
};

static inline bool geohash_is_zero(struct geohash h) { return !h.bits && !h.step; }

/* Cell of (lon, lat) at `step` bits per axis inside the given ranges;
 * false outside them or outside Redis's WGS84 limits. */
bool geohash_encode(const struct geo_range *lon_r, const struct geo_range *lat_r, double lon, double lat,
                    uint8_t step, struct geohash *out);
bool geohash_encode_wgs84(double lon, double lat, uint8_t step, struct geohash *out);
/* The cell's bounds. False for a zero hash. */
bool geohash_decode(struct geo_range lon_r, struct geo_range lat_r, struct geohash h, struct geo_area *area);
bool geohash_decode_wgs84(struct geohash h, struct geo_area *area);
/* Centre of the cell, clamped to the WGS84 limits: xy = {lon, lat}. */
bool geohash_decode_to_lonlat(struct geohash h, double xy[2]);
void geohash_neighbors(const struct geohash *h, struct geo_neighbors *n);
/* The hash as a 52-bit sorted-set score. */
uint64_t geohash_align52(struct geohash h);

/* Score <-> coordinates at full precision (GEOADD, GEOPOS). */
uint64_t geo_score_encode(double lon, double lat);
bool geo_score_decode(double score, double xy[2]);
/* GEOHASH's text: 11 base-32 characters and a NUL. */
void geo_score_to_geohash(double score, char out[12]);

/* Great-circle distance in meters (haversine on Redis's earth radius). */
double geo_distance(double lon1, double lat1, double lon2, double lat2);

enum geo_shape_type { GEO_SHAPE_CIRCLE, GEO_SHAPE_BOX };

/* A search: centre, unit (meters per unit) and radius or box (in units). */
struct geo_shape {
    int type;
    double xy[2];
    double conversion;
    double radius;
    double width, height;
    double bounds[4]; /* min lon, min lat, max lon, max lat (filled by geo_shape_cells) */
};

/* The cells a search scans, in Redis's order (centre, N, S, E, W, NE, NW,
 * SE, SW) with useless ones zeroed and repeats removed: fills up to 9 and
 * returns how many. */
int geo_shape_cells(struct geo_shape *s, struct geohash cells[9]);
/* Scores of a cell: [min, max). */
void geo_cell_scores(struct geohash h, uint64_t *min, uint64_t *max);
/* Whether a member with this score is inside the shape; *xy its
 * coordinates and *dist its distance from the centre in meters. */
bool geo_shape_contains(const struct geo_shape *s, double score, double xy[2], double *dist);

/* Redis's fixedpoint_d2string(d, 4): distances as "%.4f" with rounding by
 * llrint. Returns the length. */
int geo_format_distance(char *buf, double d);

#endif
