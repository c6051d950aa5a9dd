/*
 * switch_count - runs the switch microbenchmark once, for counting
 * instructions under `valgrind --tool=callgrind` (a figure that does not
 * depend on the machine's load). Run it with two iteration counts and divide
 * the difference of the totals by the difference of the switch counts: the
 * start-up cost cancels out.
 *
 *   switch_count DEPTH_BYTES ITERATIONS [COROUTINES]
 *
 * Prints one JSON object with the counters the runtime measured.
 */
#include "coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_count(const char *s, long long min, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    long long depth, iters, coros = 2;
    if (argc < 3 || argc > 4 || parse_count(argv[1], 0, &depth) < 0 ||
        parse_count(argv[2], 2, &iters) < 0 || (argc == 4 && parse_count(argv[3], 1, &coros) < 0)) {
        fprintf(stderr, "usage: switch_count DEPTH_BYTES ITERATIONS [COROUTINES]\n");
        return 2;
    }
    if (coro_runtime_init(0, NULL) < 0) {
        perror("coro_runtime_init");
        return 1;
    }
    coro_switch_bench_t b = {.coroutines = coros, .depth_bytes = depth, .iterations = iters};
    if (coro_bench_switch(&b) < 0) {
        fprintf(stderr, "switch_count: benchmark failed: %s\n", strerror(errno));
        return 1;
    }
    coro_stats_t st;
    coro_get_stats(&st);
    printf("{\"depth_bytes\":%lld,\"iterations\":%lld,\"coroutines\":%lld,\"switches\":%lld,"
           "\"bytes_copied_per_switch\":%.1f,\"slice_bytes\":%.1f,\"ns_per_switch\":%.2f}\n",
           depth, iters, coros, (long long)st.switches, b.bytes_copied_per_switch, b.slice_bytes,
           b.ns_per_switch);
    coro_runtime_destroy();
    return 0;
}
