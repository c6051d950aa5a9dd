/*
 * latency_hist.h - a log-linear latency histogram in the spirit of
 * HdrHistogram: fixed memory, O(1) record, percentiles within 1/64 (1.6%)
 * of the true value.
 *
 * Values are non-negative int64 (the echo client records nanoseconds).
 * Values below 128 are counted exactly; above that, every power-of-two
 * range [2^k, 2^(k+1)) is split into 64 equal sub-buckets. That covers the
 * whole int64 range in 3,776 counters (about 30 KiB), so recording never
 * allocates and never saturates.
 */
#ifndef LATENCY_HIST_H
#define LATENCY_HIST_H

#include <stdint.h>

#define LAT_HIST_SUB_BITS 7                        /* 2^7 = 128 exact values */
#define LAT_HIST_HALF (1 << (LAT_HIST_SUB_BITS - 1)) /* 64 sub-buckets per octave */
#define LAT_HIST_BUCKETS ((64 - LAT_HIST_SUB_BITS + 1) * LAT_HIST_HALF + LAT_HIST_HALF)

typedef struct lat_hist {
    int64_t total;
    int64_t min, max;     /* exact extremes of what was recorded */
    int64_t counts[LAT_HIST_BUCKETS];
} lat_hist_t;

/* Empties h. */
void lat_hist_init(lat_hist_t *h);

/* Counts one value (negative values count as 0). */
static inline void lat_hist_record(lat_hist_t *h, int64_t v)
{
    if (v < 0)
        v = 0;
    unsigned idx;
    if (v < (1 << LAT_HIST_SUB_BITS)) {
        idx = (unsigned)v;
    } else {
        unsigned msb = 63u - (unsigned)__builtin_clzll((unsigned long long)v);
        unsigned shift = msb - (LAT_HIST_SUB_BITS - 1);  /* >= 1 */
        idx = (shift << (LAT_HIST_SUB_BITS - 1)) + (unsigned)(v >> shift);
    }
    h->counts[idx]++;
    h->total++;
    if (v > h->max)
        h->max = v;
    if (v < h->min)
        h->min = v;
}

/* The value at percentile p (0 < p <= 100): the highest value that falls in
 * the same bucket as the ceil(p% * total)-th smallest recorded value,
 * clamped to the exact max. 0 when nothing was recorded. */
int64_t lat_hist_percentile(const lat_hist_t *h, double p);

/* The highest value bucket idx (< LAT_HIST_BUCKETS) holds: what a reader of
 * an exported histogram needs to merge and rank buckets. */
int64_t lat_hist_bucket_high(unsigned idx);

/* Adds every count of `from` into `into`. */
void lat_hist_merge(lat_hist_t *into, const lat_hist_t *from);

#endif
