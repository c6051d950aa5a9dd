/*
 * registry.c - the backends this build has, fastest first. The first entry
 * is the default.
 */
#include "../runtime.h"

#include <string.h>

/* A libkqueue build exists to test the kqueue backend, so kqueue is its
 * default (first): the tests that use the default backend test it. */
static const coro_backend_ops_t *const registry[] = {
#ifdef CORO_HAVE_KQUEUE
    &coro__backend_kqueue,
#endif
#ifdef __linux__
    &coro__backend_epoll,
#endif
    &coro__backend_poll,
    &coro__backend_select,
};

#define REGISTRY_LEN (sizeof registry / sizeof registry[0])

const coro_backend_ops_t *coro__backend_find(const char *name)
{
    for (size_t i = 0; i < REGISTRY_LEN; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

const coro_backend_ops_t *coro__backend_default(void)
{
    return registry[0];
}

const char *coro_backends(void)
{
    static char names[64];
    if (!names[0]) {
        for (size_t i = 0; i < REGISTRY_LEN; i++) {
            if (i)
                strcat(names, ",");
            strcat(names, registry[i]->name);
        }
    }
    return names;
}
