/*
 * latency_hist.c - percentiles of the log-linear histogram (latency_hist.h).
 */
#include "latency_hist.h"

#include <string.h>

void lat_hist_init(lat_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = INT64_MAX;
}

/* Highest value that maps to bucket idx (the inverse of lat_hist_record). */
static int64_t bucket_high(unsigned idx)
{
    if (idx < (1u << LAT_HIST_SUB_BITS))
        return (int64_t)idx;
    unsigned shift = (idx >> (LAT_HIST_SUB_BITS - 1)) - 1;
    unsigned sub = idx - (shift << (LAT_HIST_SUB_BITS - 1));
    /* sub is in [64, 128): the bucket holds [sub << shift, (sub + 1) << shift). */
    uint64_t high = (((uint64_t)sub + 1) << shift) - 1;
    return high > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)high;
}

int64_t lat_hist_percentile(const lat_hist_t *h, double p)
{
    if (h->total == 0)
        return 0;
    if (p > 100.0)
        p = 100.0;
    /* Rank of the wanted value, 1-based: ceil(p/100 * total), at least 1.
     * The small subtraction absorbs binary rounding (99.9 is not exact:
     * p99.9 of 1000 values must be the 999th, not the 1000th). */
    double want_d = p * (double)h->total / 100.0 - 1e-6;
    int64_t want = (int64_t)want_d;
    if ((double)want < want_d)
        want++;
    if (want < 1)
        want = 1;
    int64_t seen = 0;
    for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= want) {
            int64_t v = bucket_high(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

int64_t lat_hist_bucket_high(unsigned idx)
{
    return bucket_high(idx);
}

void lat_hist_merge(lat_hist_t *into, const lat_hist_t *from)
{
    for (unsigned i = 0; i < LAT_HIST_BUCKETS; i++)
        into->counts[i] += from->counts[i];
    into->total += from->total;
    if (from->max > into->max)
        into->max = from->max;
    if (from->min < into->min)
        into->min = from->min;
}
