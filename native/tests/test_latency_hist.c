/* test_latency_hist: the echo client's log-linear histogram (demos/lib).
 * Every value maps to a bucket that contains it and is at most 1/64 of the
 * value wide; percentiles of known distributions come out within that
 * error; max is exact. The test links the demo source directly because test
 * programs link only libcoro. (The Makefile does not see this include:
 * after editing latency_hist.c, touch this file or build clean.) */
#include "../demos/lib/latency_hist.c"

#include <stdio.h>
#include <stdlib.h>

#include "check.h"

static lat_hist_t h;

/* The bucket of v, recovered through the public API: record only v and ask
 * for the median. */
static int64_t high_of(int64_t v)
{
    lat_hist_init(&h);
    lat_hist_record(&h, v);
    /* max clamps the answer; read the raw bucket bound instead. */
    unsigned idx;
    if (v < (1 << LAT_HIST_SUB_BITS)) {
        idx = (unsigned)v;
    } else {
        unsigned msb = 63u - (unsigned)__builtin_clzll((unsigned long long)v);
        unsigned shift = msb - (LAT_HIST_SUB_BITS - 1);
        idx = (shift << (LAT_HIST_SUB_BITS - 1)) + (unsigned)(v >> shift);
    }
    /* CHECK goes on after a failure: stop here rather than read past the
     * array. (Without the return, GCC's -Warray-bounds sees that read on the
     * failure path and warns "array subscript 3776 is above array bounds" in
     * the i386 and aarch64 builds. The client itself cannot get there: v is
     * at most INT64_MAX, so msb <= 62, shift <= 56 and idx <= 56 * 64 + 127
     * = 3711 < LAT_HIST_BUCKETS on every architecture, all types involved
     * being fixed-width; test_buckets checks the top of every octave.) */
    if (idx >= LAT_HIST_BUCKETS) {
        CHECK(idx < LAT_HIST_BUCKETS, "index %u out of range for %lld", idx, (long long)v);
        return -1;
    }
    CHECK(h.counts[idx] == 1, "value %lld not counted at index %u", (long long)v, idx);
    return bucket_high(idx);
}

static void test_buckets(void)
{
    int64_t samples[] = {0, 1, 63, 64, 127, 128, 129, 255, 256, 1000, 4095, 4096, 123456789,
                         (int64_t)1 << 40, INT64_MAX / 3, INT64_MAX - 1, INT64_MAX};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        int64_t v = samples[i], hi = high_of(v);
        CHECK(hi >= v, "bucket of %lld ends below it (%lld)", (long long)v, (long long)hi);
        CHECK(hi - v <= v / 64, "bucket of %lld too wide: ends at %lld", (long long)v,
              (long long)hi);
    }
    /* The first and the last value of every octave: the highest index any
     * value can reach stays inside counts[]. */
    for (int msb = LAT_HIST_SUB_BITS; msb <= 62; msb++) {
        int64_t lo = (int64_t)1 << msb, top = (int64_t)(((uint64_t)1 << (msb + 1)) - 1);
        CHECK(high_of(lo) >= lo && high_of(top) >= top, "octave 2^%d: bucket ends below its value",
              msb);
    }
    /* Exact below 128. */
    for (int64_t v = 0; v < 128; v++)
        CHECK(high_of(v) == v, "value %lld not exact", (long long)v);
    /* Negative values count as 0. */
    lat_hist_init(&h);
    lat_hist_record(&h, -5);
    CHECK(h.counts[0] == 1 && h.max == 0, "negative value not clamped to 0");
}

static void test_percentiles(void)
{
    lat_hist_init(&h);
    CHECK(lat_hist_percentile(&h, 50) == 0, "empty histogram percentile not 0");
    /* 1..100000: the p-th percentile is p * 1000. */
    for (int64_t v = 1; v <= 100000; v++)
        lat_hist_record(&h, v);
    double ps[] = {50, 90, 99, 99.9};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        int64_t want = (int64_t)(ps[i] * 1000.0 + 0.5);
        int64_t got = lat_hist_percentile(&h, ps[i]);
        CHECK(got >= want && got - want <= want / 64, "p%g: got %lld, want %lld", ps[i],
              (long long)got, (long long)want);
    }
    CHECK(lat_hist_percentile(&h, 100) == 100000, "p100 is not the exact max");
    CHECK(h.max == 100000 && h.min == 1 && h.total == 100000, "extremes or total wrong");

    /* A long tail: 999 fast values and one slow one. p99.9 is still fast,
     * max is the slow one exactly. */
    lat_hist_init(&h);
    for (int i = 0; i < 999; i++)
        lat_hist_record(&h, 10000);
    lat_hist_record(&h, 7777777);
    CHECK(lat_hist_percentile(&h, 99.9) <= 10000 + 10000 / 64, "p99.9 pulled by the tail");
    CHECK(lat_hist_percentile(&h, 100) == 7777777, "max not exact");

    /* Merging two halves gives the whole. */
    lat_hist_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    lat_hist_init(a);
    lat_hist_init(b);
    for (int64_t v = 1; v <= 1000; v++)
        lat_hist_record(v <= 500 ? a : b, v);
    lat_hist_merge(a, b);
    CHECK(a->total == 1000 && a->min == 1 && a->max == 1000, "merge lost counts or extremes");
    int64_t p50 = lat_hist_percentile(a, 50);
    CHECK(p50 >= 500 && p50 <= 500 + 500 / 64, "merged p50 %lld", (long long)p50);
    free(a);
    free(b);
}

int main(void)
{
    test_buckets();
    test_percentiles();
    return check_finish("test_latency_hist");
}
