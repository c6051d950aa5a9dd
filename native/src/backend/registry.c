/*
 * registry.c - the backends this build has, fastest first. The first entry
 * is the default.
 */
#include "../runtime.h"

#include <string.h>

#if defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || \
    defined(__NetBSD__) || defined(__DragonFly__)
#define CORO_HAVE_KQUEUE 1
#endif

static const coro_backend_ops_t *const registry[] = {
#ifdef __linux__
    &coro__backend_epoll,
#endif
#ifdef CORO_HAVE_KQUEUE
    &coro__backend_kqueue,
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
