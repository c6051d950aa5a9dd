/* test_many_coroutines: 10,000 coroutines alive at once, each keeping a
 * small live stack with its own pattern across several yields. Checks the
 * counters: live_coroutines, switches (exactly 2 per resume), bytes saved ==
 * bytes restored == saves x slice (every coroutine yields from the same
 * frame), save_buffer_bytes ~ 10,000 x slice while all are suspended and 0
 * after the end, and that every stack came back intact. */
#include "coro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define N 10000
#define YIELDS 5
#define LOCAL_BYTES 200

static int ended, corrupt;
static coro_stats_t mid;     /* taken while every coroutine is suspended */
static int have_mid;

static void __attribute__((noinline)) body(int id)
{
    volatile unsigned char local[LOCAL_BYTES];
    for (int i = 0; i < LOCAL_BYTES; i++)
        local[i] = (unsigned char)(id * 31 + i);
    for (int y = 0; y < YIELDS; y++) {
        /* After the first round, the last coroutine finds all the others
         * suspended with their slices saved. */
        if (y == 1 && id == N - 1) {
            coro_get_stats(&mid);
            have_mid = 1;
        }
        coro_yield_now();
        for (int i = 0; i < LOCAL_BYTES; i++)
            if (local[i] != (unsigned char)(id * 31 + i)) {
                corrupt++;
                break;
            }
    }
}

static void entry(void *arg)
{
    body((int)(intptr_t)arg);
    ended++;
}

int main(void)
{
    CHECK(coro_runtime_init(0, NULL) == 0, "init");
    coro_stats_t s0, s1;
    coro_get_stats(&s0);
    for (int i = 0; i < N; i++)
        CHECK(coro_spawn(entry, (void *)(intptr_t)i) != NULL, "spawn %d", i);
    coro_get_stats(&s1);
    CHECK(s1.live_coroutines == N, "live %lld", (long long)s1.live_coroutines);
    CHECK(s1.coroutines_spawned - s0.coroutines_spawned == N, "spawned");
    OK("10000 coroutines spawned: live_coroutines = %lld\n", (long long)s1.live_coroutines);

    CHECK(coro_run() == 0, "run");
    coro_stats_t s2;
    coro_get_stats(&s2);
    CHECK(ended == N, "ended %d", ended);
    CHECK(corrupt == 0, "%d stacks corrupted", corrupt);
    CHECK(s2.live_coroutines == 0, "live at end %lld", (long long)s2.live_coroutines);
    CHECK(s2.save_buffer_bytes == 0, "save buffers left %lld", (long long)s2.save_buffer_bytes);
    OK("all %d ended, each found its %d-byte stack pattern intact after %d yields; live = 0, "
       "save_buffer_bytes = 0\n", N, LOCAL_BYTES, YIELDS);

    /* Each coroutine is resumed YIELDS + 1 times and switches out as often
     * (YIELDS yields + its end). */
    int64_t switches = s2.switches - s1.switches;
    CHECK(switches == (int64_t)N * (YIELDS + 1) * 2, "switches %lld, expected %lld",
          (long long)switches, (long long)N * (YIELDS + 1) * 2);
    /* Round-robin among N: every resume is a different coroutine, so the
     * owner's slice is saved after each of its YIELDS yields and restored
     * before each resume after one. All yield from the same frame. */
    int64_t saved = s2.bytes_saved - s1.bytes_saved, restored = s2.bytes_restored - s1.bytes_restored;
    int64_t slice = s2.max_slice_bytes;
    CHECK(saved == restored, "saved %lld != restored %lld", (long long)saved, (long long)restored);
    CHECK(saved == (int64_t)N * YIELDS * slice, "saved %lld, expected %d x %d x %lld",
          (long long)saved, N, YIELDS, (long long)slice);
    CHECK(slice >= LOCAL_BYTES && slice < LOCAL_BYTES + 1024, "slice %lld", (long long)slice);
    OK("switches = %lld = %d x %d x 2; bytes saved = restored = %lld = %d x %d x slice %lld\n",
       (long long)switches, N, YIELDS + 1, (long long)saved, N, YIELDS, (long long)slice);

    CHECK(have_mid, "mid-run stats taken");
    CHECK(mid.live_coroutines == N, "live mid-run %lld", (long long)mid.live_coroutines);
    /* Buffers are rounded up to 64 bytes; all N-1 others hold one slice. */
    int64_t rounded = (slice + 63) / 64 * 64;
    CHECK(mid.save_buffer_bytes >= (int64_t)(N - 1) * slice &&
          mid.save_buffer_bytes <= (int64_t)N * rounded,
          "save_buffer_bytes %lld, expected %lld..%lld", (long long)mid.save_buffer_bytes,
          (long long)(N - 1) * slice, (long long)N * rounded);
    OK("with all %d suspended: live_coroutines = %lld, save_buffer_bytes = %lld (%.1f per "
       "coroutine, slice %lld)\n", N, (long long)mid.live_coroutines,
       (long long)mid.save_buffer_bytes, (double)mid.save_buffer_bytes / N, (long long)slice);

    CHECK(coro_runtime_destroy() == 0, "destroy");
    return check_finish("test_many_coroutines");
}
