/*
 * demo_output.c - shared result lines of the load generators (see
 * demo_output.h).
 */
#include "demo_output.h"

#include <stdio.h>

void demo_print_bench_lines(const char *server_bench, const coro_rusage_t *client,
                            const coro_stats_t *st)
{
    char buf[1024];
    printf("server bench: %s\n", server_bench ? server_bench : "unavailable");
    coro_rusage_format(client, buf, sizeof buf);
    printf("client bench: %s\n", buf);
    printf("read_block: %lld  write_block: %lld\n", (long long)st->read_blocks,
           (long long)st->write_blocks);
}
