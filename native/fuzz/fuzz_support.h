/*
 * fuzz_support.h - what the libFuzzer targets in this folder share: one
 * runtime for the whole fuzzing process, a socketpair whose ends the core
 * treats like accepted sockets, a writer coroutine that feeds a buffer in
 * chunks of input-chosen sizes, and a failure report that libFuzzer turns
 * into a saved crash input.
 *
 * The targets are built by scripts/fuzz.sh with clang -fsanitize=fuzzer
 * (plus ASan and UBSan); they are not part of `make -C native`, which must
 * build with gcc alone. Header-only, so each target stays one .c file.
 */
#ifndef FUZZ_SUPPORT_H
#define FUZZ_SUPPORT_H

#include <coro.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Reports a property violation and aborts: libFuzzer saves the input as a
 * crash-* file and the run fails. */
static void __attribute__((noreturn, format(printf, 1, 2))) fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: property violated: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* Creates the runtime on first use and keeps it for the whole process:
 * creating one per input would spend most of the time in mmap. The backend
 * is the build's default (epoll on Linux), or FUZZ_BACKEND if set. */
static void fuzz_runtime(void)
{
    static bool ready;
    if (ready)
        return;
    const char *backend = getenv("FUZZ_BACKEND");
    if (coro_runtime_init(0, backend) < 0) {
        perror("fuzz: coro_runtime_init");
        exit(2);
    }
    ready = true;
}

/* A connected pair of non-blocking stream sockets registered with the core
 * (the state a freshly accepted connection has). */
static void fuzz_socketpair(int fds[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) {
        perror("fuzz: socketpair");
        exit(2);
    }
    if (coro_fd_setup(fds[0]) < 0 || coro_fd_setup(fds[1]) < 0) {
        perror("fuzz: coro_fd_setup");
        exit(2);
    }
}

/* Runs the loop until every coroutine of this input has ended. A coroutine
 * left behind means a wait that can never end: a bug in the core or in the
 * code under test. */
static void fuzz_run(void)
{
    int64_t left = coro_run();
    if (left != 0)
        fuzz_fail("coro_run returned %lld (coroutines left or backend error)", (long long)left);
}

/* The chunked writer: sends data[0, len) to fd in chunks whose sizes come
 * from an 8-entry schedule (1..256 bytes each, cycled), yielding after each
 * so the reader runs between chunks and sees the input split at arbitrary
 * places. Then closes the fd, or (when another coroutine still reads from
 * it) shuts down its write side. Lives in static
 * storage: a coroutine's stack is not addressable by others (coro.h). */
typedef struct fuzz_writer {
    int fd;
    const uint8_t *data;
    size_t len;
    uint8_t schedule[8];
    bool close_when_done;    /* coro_close; else shutdown(SHUT_WR) */
    size_t written;          /* bytes the peer accepted */
    int error;               /* errno of a failed write (EPIPE when the reader quit) */
} fuzz_writer_t;

static void fuzz_writer_fn(void *arg)
{
    fuzz_writer_t *w = arg;
    size_t i = 0;
    w->written = 0;
    w->error = 0;
    while (w->written < w->len) {
        size_t chunk = (size_t)w->schedule[i++ % 8] + 1;
        if (chunk > w->len - w->written)
            chunk = w->len - w->written;
        if (coro_write_all(w->fd, w->data + w->written, (int64_t)chunk) < 0) {
            w->error = errno;
            break;
        }
        w->written += chunk;
        coro_yield_now();
    }
    if (w->close_when_done)
        coro_close(w->fd);
    else if (!w->error)
        shutdown(w->fd, SHUT_WR); /* after an error the reader may have closed it */
}

#endif
