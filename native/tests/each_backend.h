/* each_backend.h: FOR_EACH_BACKEND(b) { ... } runs the block once for every
 * event backend of this build (coro_backends(), fastest first), with
 * `char *b` naming it; the test inits and destroys the runtime itself.
 *
 * CORO_TEST_BACKENDS=a,b narrows that to the backends named (scripts/
 * test-kqueue.sh runs the kqueue build's tests on kqueue only); a name this
 * build lacks is an error (exit 2), so a typo cannot make a test pass
 * having tested nothing. */
#ifndef CORO_TESTS_EACH_BACKEND_H
#define CORO_TESTS_EACH_BACKEND_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coro.h"

/* The backends to run: CORO_TEST_BACKENDS when set (each checked against
 * this build's list), else all of this build's. */
static inline const char *each_backend_list_(void)
{
    const char *want = getenv("CORO_TEST_BACKENDS");
    if (!want || !*want)
        return coro_backends();
    char have[128], names[128];
    snprintf(have, sizeof have, ",%s,", coro_backends());
    snprintf(names, sizeof names, "%s", want);
    for (char *n = strtok(names, ","); n; n = strtok(NULL, ",")) {
        char key[64];
        snprintf(key, sizeof key, ",%s,", n);
        if (!strstr(have, key)) {
            fprintf(stderr, "error: CORO_TEST_BACKENDS names %s, not a backend of this build (%s)\n",
                    n, coro_backends());
            exit(2);
        }
    }
    return want;
}

#define FOR_EACH_BACKEND(b)                                                          \
    for (char each_backend_names_[128],                                              \
         *b = (snprintf(each_backend_names_, sizeof each_backend_names_, "%s",      \
                        each_backend_list_()),                                       \
               strtok(each_backend_names_, ","));                                   \
         b; b = strtok(NULL, ","))

#endif
