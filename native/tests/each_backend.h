/* each_backend.h: FOR_EACH_BACKEND(b) { ... } runs the block once for every
 * event backend of this build (coro_backends(), fastest first), with
 * `char *b` naming it; the test inits and destroys the runtime itself. */
#ifndef CORO_TESTS_EACH_BACKEND_H
#define CORO_TESTS_EACH_BACKEND_H

#include <stdio.h>
#include <string.h>

#include "coro.h"

#define FOR_EACH_BACKEND(b)                                                          \
    for (char each_backend_names_[128],                                              \
         *b = (snprintf(each_backend_names_, sizeof each_backend_names_, "%s",      \
                        coro_backends()),                                            \
               strtok(each_backend_names_, ","));                                   \
         b; b = strtok(NULL, ","))

#endif
