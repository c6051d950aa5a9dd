/*
 * tls.c - what every TLS layer shares, whichever library it wraps: the
 * rate-limited error lines (tls.h).
 */
#include "tls.h"

#include <stdbool.h>
#include <stdio.h>

/* At most REPORTS_PER_SECOND lines a second: a peer that fails handshakes
 * on purpose, connection after connection, must not flood the log. Lines
 * held back are counted and the count is given with the next line shown. */
#define REPORTS_PER_SECOND 10

void coro__tls_report(const char *what, const char *reason)
{
    static int64_t window_start;
    static int shown_in_window;
    static long long held_back;
    int64_t now = coro_now_ns();
    if (now - window_start >= 1000000000) {
        window_start = now;
        shown_in_window = 0;
    }
    if (shown_in_window++ >= REPORTS_PER_SECOND) {
        held_back++;
        return;
    }
    if (held_back) {
        fprintf(stderr, "coro tls: %lld more error lines were held back (at most %d a second)\n",
                held_back, REPORTS_PER_SECOND);
        held_back = 0;
    }
    fprintf(stderr, "coro tls: %s: %s\n", what, reason ? reason : "unknown error");
}
