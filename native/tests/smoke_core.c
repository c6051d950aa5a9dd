/* smoke_core: spawn, yield/schedule with values, sleep, and the switch
 * benchmark with counters, on every backend. */
#include "coro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "each_backend.h"

static coro_t *waiter;
static intptr_t got;
static int order[8], norder;

static void waiter_fn(void *arg)
{
    (void)arg;
    got = coro_yield();
    order[norder++] = 2;
}

static void waker_fn(void *arg)
{
    (void)arg;
    order[norder++] = 1;
    CHECK(coro_schedule(waiter, 42) == 0, "schedule failed");
    CHECK(coro_sleep_ms(5) == 0, "sleep failed");
    order[norder++] = 3;
}

int main(void)
{
    FOR_EACH_BACKEND(b) {
        CHECK(coro_runtime_init(0, b) == 0, "init %s", b);
        norder = 0;
        waiter = coro_spawn(waiter_fn, NULL);
        coro_spawn(waker_fn, NULL);
        int64_t left = coro_run();
        CHECK(left == 0, "%s: %lld coroutines left", b, (long long)left);
        CHECK(got == 42, "%s: yield returned %ld", b, (long)got);
        CHECK(norder == 3 && order[0] == 1 && order[1] == 2 && order[2] == 3, "%s: order", b);
        OK("%s: spawn, schedule(42) -> yield, sleep 5 ms, run to completion\n", b);
        CHECK(coro_runtime_destroy() == 0, "destroy");
    }
    CHECK(coro_runtime_init(0, NULL) == 0, "init default");
    coro_switch_bench_t sb = {.coroutines = 2, .depth_bytes = 1024, .iterations = 200000};
    CHECK(coro_bench_switch(&sb) == 0, "bench");
    CHECK(sb.slice_bytes >= 1024 && sb.slice_bytes < 1024 + 512, "slice %f", sb.slice_bytes);
    OK("switch bench: %.1f ns/switch, %.0f bytes copied/switch, slice %.0f\n",
       sb.ns_per_switch, sb.bytes_copied_per_switch, sb.slice_bytes);
    coro_runtime_destroy();
    return check_finish("smoke_core");
}
