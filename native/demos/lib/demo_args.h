/*
 * demo_args.h - command-line helpers shared by the demo programs: strict
 * number parsing and the coro++ backend flags.
 */
#ifndef DEMO_ARGS_H
#define DEMO_ARGS_H

#include <stdint.h>

/* Parses a whole decimal integer (optional sign, no trailing junk, no
 * leading blanks) in [min, max]. Returns 0, or -1 with errno EINVAL (not a
 * number) or ERANGE (outside [min, max]). */
int demo_parse_i64(const char *text, int64_t min, int64_t max, int64_t *out);

/* Parses a whole non-negative decimal number of seconds ("5", "0.25") into
 * milliseconds, at most max_ms. Returns 0, or -1 with errno EINVAL/ERANGE. */
int demo_parse_seconds_ms(const char *text, int64_t max_ms, int64_t *out_ms);

/* The backend named by a coro++ flag letter: 'k' kqueue, 's' select,
 * 'p' poll, 'e' epoll. NULL for any other letter. */
const char *demo_backend_for_flag(int letter);

/* 1 if `name` is one of coro_backends(), else 0. */
int demo_backend_known(const char *name);

/* Checks a -b NAME: NULL (the build's default) or one of coro_backends().
 * Returns 0, or -1 after saying on stderr
 * "PROG: backend 'NAME' is not in this build (it has: ...)"; the caller
 * exits 2, as for any bad argument. */
int demo_check_backend(const char *prog, const char *name);

#endif
