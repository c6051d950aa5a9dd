/*
 * coro.h - the one public C header of the coro-bench native core.
 *
 * A stack-copying coroutine runtime: every coroutine runs on ONE shared
 * stack; when a coroutine blocks, its live slice [sp, top) is copied to a
 * per-coroutine heap buffer and copied back when it is resumed. The
 * scheduler runs on the thread's own stack. Two stacks in total.
 *
 * Conventions (the whole header follows them):
 *  - Fixed-width types only; counts and times are int64_t; times carry their
 *    unit in the name (_ns, _ms).
 *  - Functions that can fail return -1 (or NULL) and set errno.
 *  - Blocking calls (coro_sleep_ms, coro_wait_*, coro_read, ...) may only be
 *    called from inside a coroutine. They fail with ETIMEDOUT when the
 *    coroutine's deadline (coro_deadline_push) passes.
 *  - A call that needs a running coroutine (the blocking calls when they
 *    would have to wait, coro_yield, coro_yield_now, coro_deadline_push, the
 *    sync primitives' waits) fails with -1 and errno ENOENT when there is no
 *    runtime (coro_runtime_init not called, or destroyed), and EPERM on the
 *    scheduler's stack (outside a coroutine). It never dereferences a
 *    missing runtime or coroutine.
 *  - POINTERS INTO A SUSPENDED COROUTINE'S STACK ARE INVALID: while a
 *    coroutine is suspended its stack lives in a heap buffer and the shared
 *    stack holds someone else's frames. Never hand the address of a local
 *    variable to another coroutine or keep it across a blocking call in a
 *    structure someone else reads. Pass heap memory instead.
 *  - The runtime is single-threaded: one runtime per process, used from the
 *    thread that called coro_runtime_init.
 */
#ifndef CORO_H
#define CORO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CORO_BUILDING_LIBRARY)
#define CORO_API __attribute__((visibility("default")))
#else
#define CORO_API
#endif

/* ------------------------------------------------------------------------ */
/* Library identity                                                          */

/* "MAJOR.MINOR.PATCH". Static string. */
CORO_API const char *coro_version(void);
/* Architecture and ABI of the context switch, e.g. "x86_64-sysv-elf". */
CORO_API const char *coro_arch(void);
/* Comma-separated names of the event backends this build has, fastest
 * first, e.g. "epoll,poll,select". Static string. */
CORO_API const char *coro_backends(void);
/* TLS library and version, e.g. "OpenSSL 3.0.19 ...", or "none". */
CORO_API const char *coro_tls_library(void);
/* Default size of the shared coroutine stack in bytes. */
CORO_API int64_t coro_default_stack_bytes(void);
/* Build flags the library was compiled with (for reports). */
CORO_API const char *coro_build_flags(void);

/* ------------------------------------------------------------------------ */
/* Runtime                                                                   */

/* Creates the runtime: maps the shared stack (stack_bytes, rounded up to a
 * page; 0 means the default of 256 KiB) with a 64 KiB PROT_NONE guard below it,
 * installs the overflow reporter (SIGSEGV on a sigaltstack) and opens the
 * event backend `backend` (NULL or "" means the fastest of this build).
 * Returns 0, or -1 with errno: EINVAL for an unknown backend name, EEXIST if
 * a runtime already exists, or what mmap/the backend reported. */
CORO_API int coro_runtime_init(int64_t stack_bytes, const char *backend);
/* Destroys the runtime. Coroutines still alive are freed without running
 * further. Returns 0, or -1 (EBUSY) if called from inside a coroutine. */
CORO_API int coro_runtime_destroy(void);
/* Name of the backend in use ("epoll", ...), or NULL without a runtime. */
CORO_API const char *coro_backend_name(void);
/* Base (lowest usable address) and size of the shared stack, for the
 * "stack base" line the demo programs print. */
CORO_API void *coro_stack_base(void);
CORO_API int64_t coro_stack_bytes(void);

/* ------------------------------------------------------------------------ */
/* Coroutines                                                                */

/* The struct tag differs in C++, whose layer (coro.hpp) is `namespace coro`:
 * a namespace cannot share its name with a struct in the global scope. The
 * type is opaque and the functions are extern "C", so both spellings name
 * the same handle at the ABI. */
#ifdef __cplusplus
typedef struct coro_coroutine coro_t;
#else
typedef struct coro coro_t;
#endif
typedef void (*coro_fn)(void *arg);

/* Creates a coroutine that will run fn(arg) and makes it runnable. It starts
 * when the scheduler next runs pending coroutines. The handle stays valid
 * until the coroutine ends. Returns NULL with errno ENOMEM on failure. */
CORO_API coro_t *coro_spawn(coro_fn fn, void *arg);
/* The running coroutine, or NULL on the scheduler's stack. */
CORO_API coro_t *coro_current(void);
/* Small positive id, unique for the life of the runtime (1, 2, ...). */
CORO_API int64_t coro_id(const coro_t *c);
/* Makes a coroutine suspended in coro_yield() runnable; coro_yield returns
 * `value` in it. Returns 0, or -1 with EBUSY if c is not suspended in
 * coro_yield (it is running, already scheduled or waiting on an event). */
CORO_API int coro_schedule(coro_t *c, intptr_t value);
/* Suspends the running coroutine until someone calls coro_schedule on it;
 * returns the value given there. Outside a coroutine: -1 with errno ENOENT
 * (no runtime) or EPERM (on the scheduler's stack); a value of -1 given to
 * coro_schedule reads the same, so check coro_current() when that matters. */
CORO_API intptr_t coro_yield(void);
/* Lets every other runnable coroutine run once, then continues: 0. Outside a
 * coroutine: -1 with errno ENOENT (no runtime) or EPERM (on the scheduler's
 * stack). */
CORO_API int coro_yield_now(void);
/* Ends the running coroutine (like returning from its function). */
CORO_API void coro_exit(void) __attribute__((noreturn));

/* Runs the event loop: runnable coroutines, due timers and ready fds, until
 * no coroutine is alive, coro_loop_stop() is called, or nothing can ever
 * wake the coroutines left (a deadlock). Must be called from the scheduler
 * stack (not from a coroutine). Returns the number of coroutines still alive
 * (0 on a normal end), or -1 on a backend error. */
CORO_API int64_t coro_run(void);
/* Runs the coroutines that are runnable now, without waiting for events.
 * Returns how many were run. */
CORO_API int64_t coro_run_pending(void);
/* Makes coro_run return after the current iteration. */
CORO_API void coro_loop_stop(void);

/* ------------------------------------------------------------------------ */
/* Time, timers, deadlines                                                   */

/* CLOCK_MONOTONIC in nanoseconds. */
CORO_API int64_t coro_now_ns(void);
/* Sleeps the running coroutine. 0, or -1 with ETIMEDOUT if its deadline
 * passed first. */
CORO_API int coro_sleep_ms(int64_t ms);
CORO_API int coro_sleep_until_ns(int64_t when_ns);

/* Deadlines ("with_timeout"): after coro_deadline_push(ms) every blocking
 * call of this coroutine fails with ETIMEDOUT once ms have passed, until the
 * matching coro_deadline_pop(). Nested deadlines keep the earliest.
 * Returns 0, or -1 with EOVERFLOW when nested more than 16 deep. */
CORO_API int coro_deadline_push(int64_t ms);
CORO_API void coro_deadline_pop(void);

/* Timer callbacks run on the scheduler stack when due: keep them short and
 * never block in them (schedule a coroutine instead). */
typedef struct coro_timer coro_timer_t;
typedef void (*coro_timer_fn)(void *arg);
/* Arms a one-shot timer at an absolute monotonic time. NULL+ENOMEM. */
CORO_API coro_timer_t *coro_timer_at_ns(int64_t when_ns, coro_timer_fn fn, void *arg);
CORO_API coro_timer_t *coro_timer_after_ms(int64_t ms, coro_timer_fn fn, void *arg);
/* Cancels and frees a timer that has not fired yet. A timer that fired is
 * freed by the runtime after its callback; do not cancel it then. */
CORO_API void coro_timer_cancel(coro_timer_t *t);

/* ------------------------------------------------------------------------ */
/* Sync primitives (all waits honour the coroutine's deadline)              */
/* Waits need a coroutine (-1, EPERM on the scheduler stack); calls that do
 * not block (wakes, release, count_down, a put/get/acquire that can finish at
 * once) also work from timer callbacks. Destroying a primitive wakes its
 * remaining waiters with ECANCELED. */

typedef struct coro_cond coro_cond_t;
CORO_API coro_cond_t *coro_cond_create(void);
CORO_API void coro_cond_destroy(coro_cond_t *cv);
/* Waits for a wake; *value (may be NULL) receives the value given to it.
 * 0, or -1 with ETIMEDOUT. */
CORO_API int coro_cond_wait(coro_cond_t *cv, intptr_t *value);
/* Wakes the longest waiter / all waiters with value. Returns how many. */
CORO_API int64_t coro_cond_wake_one(coro_cond_t *cv, intptr_t value);
CORO_API int64_t coro_cond_wake_all(coro_cond_t *cv, intptr_t value);
CORO_API int64_t coro_cond_waiters(const coro_cond_t *cv);

typedef struct coro_mutex coro_mutex_t;
CORO_API coro_mutex_t *coro_mutex_create(void);
CORO_API void coro_mutex_destroy(coro_mutex_t *m);
/* FIFO hand-off. 0, or -1 with ETIMEDOUT or EDEADLK (already owner). */
CORO_API int coro_mutex_lock(coro_mutex_t *m);
CORO_API int coro_mutex_trylock(coro_mutex_t *m); /* -1 EBUSY if held */
CORO_API int coro_mutex_unlock(coro_mutex_t *m);  /* -1 EPERM if not owner */

typedef struct coro_sem coro_sem_t;
CORO_API coro_sem_t *coro_sem_create(int64_t initial);
CORO_API void coro_sem_destroy(coro_sem_t *s);
CORO_API int coro_sem_acquire(coro_sem_t *s); /* 0, or -1 ETIMEDOUT */
CORO_API void coro_sem_release(coro_sem_t *s);
CORO_API int64_t coro_sem_value(const coro_sem_t *s);

/* Latch: count_down until zero releases every waiter. */
typedef struct coro_latch coro_latch_t;
CORO_API coro_latch_t *coro_latch_create(int64_t count);
CORO_API void coro_latch_destroy(coro_latch_t *l);
CORO_API void coro_latch_count_down(coro_latch_t *l);
CORO_API int coro_latch_wait(coro_latch_t *l); /* 0, or -1 ETIMEDOUT */

/* Bounded FIFO queue of intptr_t items (capacity >= 1). put blocks while
 * full, get while empty. */
typedef struct coro_fifo coro_fifo_t;
CORO_API coro_fifo_t *coro_fifo_create(int64_t capacity);
CORO_API void coro_fifo_destroy(coro_fifo_t *q);
CORO_API int coro_fifo_put(coro_fifo_t *q, intptr_t item); /* 0 / -1 ETIMEDOUT */
CORO_API int coro_fifo_get(coro_fifo_t *q, intptr_t *item); /* 0 / -1 ETIMEDOUT */
CORO_API int64_t coro_fifo_size(const coro_fifo_t *q);

/* ------------------------------------------------------------------------ */
/* File descriptors and sockets                                             */

/* Waits until fd is readable / writable. 0, or -1 with errno: ETIMEDOUT,
 * EBADF (fd closed by coro_close while waiting), EINVAL (the backend cannot
 * watch this fd, e.g. select with fd >= FD_SETSIZE; a message is printed to
 * stderr once), EBUSY (another coroutine already waits on this fd and
 * direction). An error or hang-up on the fd counts as ready: the next I/O
 * call reports it. */
CORO_API int coro_wait_readable(int fd);
CORO_API int coro_wait_writable(int fd);

/* Reads up to n bytes; waits while nothing is available. Returns bytes read,
 * 0 at end of stream, or -1 with errno. EINTR is retried. Without a runtime:
 * -1 with ENOENT; outside a coroutine, EPERM when the read would wait. */
CORO_API int64_t coro_read(int fd, void *buf, int64_t n);
/* Writes all n bytes (waiting while the socket is full). Returns n, or -1
 * with errno (EPIPE/ECONNRESET for a gone peer; SIGPIPE is never raised). */
CORO_API int64_t coro_write_all(int fd, const void *buf, int64_t n);
/* Closes fd and wakes any coroutine waiting on it with EBADF. An fd the
 * runtime has waited on must be closed with this, not close(2): the runtime
 * and its backend remember the fd (epoll's registration, select's and
 * poll's interest sets), and a reused fd number would inherit that state. */
CORO_API int coro_close(int fd);
/* Makes fd non-blocking and close-on-exec. */
CORO_API int coro_fd_setup(int fd);

/* TCP listener bound to host:port (host NULL means 127.0.0.1; port 0 picks
 * an ephemeral port), non-blocking, SO_REUSEADDR. Returns the fd or -1. */
CORO_API int coro_tcp_listen(const char *host, int port, int backlog);
/* Local port of a bound socket, or -1. */
CORO_API int coro_socket_port(int fd);
/* Accepts one connection (non-blocking, close-on-exec, TCP_NODELAY).
 * Returns the fd or -1; EMFILE/ENFILE are returned to the caller (back off). */
CORO_API int coro_accept(int listen_fd);
/* Connects to host:port (numeric or resolvable name). Returns the fd or -1
 * (ECONNREFUSED, ETIMEDOUT, or EHOSTUNREACH when the name cannot be
 * resolved). */
CORO_API int coro_tcp_connect(const char *host, int port);
/* 1 if the peer of a connected socket is a loopback address, 0 if not, -1. */
CORO_API int coro_peer_is_loopback(int fd);

/* ------------------------------------------------------------------------ */
/* Streams: a plain fd or a TLS session, with a buffered line reader        */

typedef struct coro_stream coro_stream_t;
typedef struct coro_tls_ctx coro_tls_ctx_t;

/* TLS contexts. cert/key are PEM file paths. NULL+errno (EINVAL) with a
 * message from the TLS library written to stderr. */
CORO_API coro_tls_ctx_t *coro_tls_server_ctx(const char *cert_pem, const char *key_pem);
CORO_API coro_tls_ctx_t *coro_tls_client_ctx(void);
CORO_API void coro_tls_ctx_free(coro_tls_ctx_t *ctx);

/* Wraps an fd; the stream owns it from now on. max_line_bytes limits
 * coro_stream_read_line (0 means 64 KiB). NULL+ENOMEM. */
CORO_API coro_stream_t *coro_stream_open(int fd, int64_t max_line_bytes);
/* Same, then runs a TLS handshake (server or client side). NULL+errno
 * (EPROTO for a failed handshake; the fd is closed). */
CORO_API coro_stream_t *coro_stream_open_tls(int fd, int64_t max_line_bytes,
                                            coro_tls_ctx_t *ctx, int is_server);
CORO_API int coro_stream_fd(const coro_stream_t *s);
/* Reads up to n bytes (buffered data first). Bytes, 0 at EOF, or -1. */
CORO_API int64_t coro_stream_read(coro_stream_t *s, void *buf, int64_t n);
/* Reads a line ending in `delim` (the delimiter is included). *line points
 * into the stream's buffer and stays valid until the next read on this
 * stream. Returns the length, 0 at a clean EOF, or -1 with errno: EMSGSIZE
 * when the line exceeds the limit, EPROTO for EOF in the middle of a line,
 * or the I/O error. No buffer is reserved while the stream is idle. */
CORO_API int64_t coro_stream_read_line(coro_stream_t *s, const char **line, char delim);
/* Reads exactly n bytes into buf. n, or -1 (EPROTO at an early EOF). */
CORO_API int64_t coro_stream_read_exact(coro_stream_t *s, void *buf, int64_t n);
/* Writes all n bytes. n or -1. */
CORO_API int64_t coro_stream_write_all(coro_stream_t *s, const void *buf, int64_t n);
/* Sends a TLS close_notify if any, shuts down the write side. */
CORO_API int coro_stream_shutdown(coro_stream_t *s);
/* Closes the fd and frees the stream. */
CORO_API int coro_stream_close(coro_stream_t *s);

/* ------------------------------------------------------------------------ */
/* Counters                                                                  */

typedef struct coro_stats {
    int64_t switches;            /* register switches (into or out of a coroutine) */
    int64_t bytes_saved;         /* bytes copied shared stack -> save buffers */
    int64_t bytes_restored;      /* bytes copied save buffers -> shared stack */
    int64_t max_slice_bytes;     /* largest live slice saved */
    int64_t live_coroutines;     /* spawned and not yet ended */
    int64_t save_buffer_bytes;   /* bytes held in save buffers now */
    int64_t read_blocks;         /* waits for readability that suspended */
    int64_t write_blocks;        /* waits for writability that suspended */
    int64_t coroutines_spawned;  /* total since init */
    int64_t coroutines_failed;   /* ended by an uncaught error/exception */
} coro_stats_t;

/* Fills *out. Returns 0, or -1 (ENOENT) without a runtime. */
CORO_API int coro_get_stats(coro_stats_t *out);

/* Reports (on stderr) that the running coroutine died of an uncaught error
 * and counts it; used by the C++ layer for escaping exceptions. */
CORO_API void coro_report_failure(const char *what);

/* ------------------------------------------------------------------------ */
/* Resource usage in the coro++ "bench" format                               */

typedef struct coro_rusage {
    int64_t wall_us;             /* wall time since the snapshot was taken */
    int64_t utime_us, stime_us;
    int64_t maxrss_kib, ixrss, idrss, isrss;
    int64_t minflt, majflt, nswap, inblock, oublock;
    int64_t msgsnd, msgrcv, nsignals, nvcsw, nivcsw;
} coro_rusage_t;

/* Snapshot of getrusage(RUSAGE_SELF) plus the monotonic clock. */
CORO_API int coro_rusage_now(coro_rusage_t *out);
/* after - before, field by field (maxrss is taken from `after`). */
CORO_API void coro_rusage_diff(const coro_rusage_t *before, const coro_rusage_t *after,
                               coro_rusage_t *out);
/* Formats as the coro++ bench line, without CRLF:
 *   "WALLSEC WALLUSEC|USEC_S USEC_US|SYS_S SYS_US|maxrss:N ixrss:N idrss:N
 *    isrss:N minflt:N majflt:N nswap:N inblock:N oublock:N msgsnd:N msgrcv:N
 *    nsignals:N nvcsw:N nivcsw:N"
 * Returns the length written (snprintf semantics). */
CORO_API int coro_rusage_format(const coro_rusage_t *r, char *buf, size_t cap);
/* The same figures as one JSON object (no newline), keys:
 * wall_us utime_us stime_us maxrss_kib ixrss idrss isrss minflt majflt nswap
 * inblock oublock msgsnd msgrcv nsignals nvcsw nivcsw. */
CORO_API int coro_rusage_format_json(const coro_rusage_t *r, char *buf, size_t cap);
/* Parses a line made by coro_rusage_format. 0, or -1 (EINVAL). */
CORO_API int coro_rusage_parse(const char *line, coro_rusage_t *out);

/* ------------------------------------------------------------------------ */
/* Microbenchmarks (one FFI call runs a whole measurement)                   */

typedef struct coro_switch_bench {
    /* inputs */
    int64_t coroutines;          /* >= 1; 1 measures the lazy (no-copy) path */
    int64_t depth_bytes;         /* live stack kept across each yield */
    int64_t iterations;          /* switches to time */
    /* outputs */
    int64_t elapsed_ns;
    double ns_per_switch;
    double bytes_copied_per_switch;   /* (saved + restored) / switches */
    double slice_bytes;               /* mean live slice per save */
} coro_switch_bench_t;

/* Runs a resume/yield ping-pong among b->coroutines coroutines, each with
 * depth_bytes of live stack. Needs a runtime. 0, or -1 with errno. */
CORO_API int coro_bench_switch(coro_switch_bench_t *b);

typedef struct coro_memcpy_bench {
    int64_t bytes;               /* input: size of each copy */
    int64_t iterations;          /* input */
    int64_t elapsed_ns;          /* output */
    double ns_per_copy;          /* output */
} coro_memcpy_bench_t;

/* Times iterations memcpy calls of `bytes` between two buffers laid out like
 * a stack slice and its save buffer (the lower bound of a copying switch). */
CORO_API int coro_bench_memcpy(coro_memcpy_bench_t *b);

typedef struct coro_regswitch_bench {
    int64_t iterations;          /* input */
    int64_t elapsed_ns;          /* output */
    double ns_per_switch;        /* output: bare register switch, no copy */
} coro_regswitch_bench_t;

/* Times the bare assembly switch between two contexts on separate stacks. */
CORO_API int coro_bench_regswitch(coro_regswitch_bench_t *b);

#ifdef __cplusplus
}
#endif
#endif /* CORO_H */
