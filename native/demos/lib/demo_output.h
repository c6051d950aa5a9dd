/*
 * demo_output.h - the result lines the load generators (echo_client,
 * smtp_client) print alike, in the coro++ format (docs/programs.md).
 */
#ifndef DEMO_OUTPUT_H
#define DEMO_OUTPUT_H

#include <coro.h>

/* Prints on stdout
 *   server bench: <server_bench, or "unavailable" when NULL>
 *   client bench: <client, in the coro++ rusage format>
 *   read_block: N  write_block: N          (this process's blocking counts)
 */
void demo_print_bench_lines(const char *server_bench, const coro_rusage_t *client,
                            const coro_stats_t *st);

#endif
