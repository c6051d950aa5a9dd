/* test_backend_many_fds: on every backend of this build, one coroutine
 * waits on each of many fds (half pipes, half socketpairs; 600 pairs, or
 * fewer for select so every fd stays below FD_SETSIZE). A writer wakes
 * them in a random order, in batches, twice. Each coroutine must read
 * exactly its own data, and each must block exactly once per round
 * (read_blocks == 2 x fds): no lost wake-ups, no spurious ones. */
#include "coro.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "each_backend.h"

#define MAX_PAIRS 600
#define ROUNDS 2
#define BATCH 37

static int npairs;
static int rd[MAX_PAIRS], wr[MAX_PAIRS];
static int got_ok[MAX_PAIRS], got_bad[MAX_PAIRS];
static int order[MAX_PAIRS];
static int done_round[ROUNDS];

static void msg_for(char *out, size_t cap, int round, int i)
{
    snprintf(out, cap, "round %d pair %d fd %d", round, i, rd[i]);
}

static void reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    for (int round = 0; round < ROUNDS; round++) {
        char buf[64], want[64];
        msg_for(want, sizeof want, round, i);
        size_t len = strlen(want);
        int64_t n = coro_read(rd[i], buf, sizeof buf);
        if (n == (int64_t)len && memcmp(buf, want, len) == 0)
            got_ok[i]++;
        else
            got_bad[i]++;
        done_round[round]++;
    }
}

static void writer(void *arg)
{
    (void)arg;
    for (int round = 0; round < ROUNDS; round++) {
        /* Everyone is blocked now (readers ran first). */
        coro_sleep_ms(1);
        for (int i = npairs - 1; i > 0; i--) {
            int j = rand() % (i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int k = 0; k < npairs; k++) {
            int i = order[k];
            char m[64];
            msg_for(m, sizeof m, round, i);
            CHECK(coro_write_all(wr[i], m, (int64_t)strlen(m)) == (int64_t)strlen(m), "write %d", i);
            if (k % BATCH == BATCH - 1)
                coro_sleep_ms(0); /* let the loop poll with part of the fds ready */
        }
        while (done_round[round] < npairs)
            coro_sleep_ms(1);
    }
}

static int run_backend(const char *b, int pairs)
{
    CHECK(coro_runtime_init(0, b) == 0, "init %s", b);
    npairs = pairs;
    memset(got_ok, 0, sizeof got_ok);
    memset(got_bad, 0, sizeof got_bad);
    memset(done_round, 0, sizeof done_round);
    int maxfd = 0;
    for (int i = 0; i < npairs; i++) {
        int p[2];
        int rc = i % 2 ? socketpair(AF_UNIX, SOCK_STREAM, 0, p) : pipe(p);
        if (rc < 0) {
            fprintf(stderr, "FAIL: %s: pair %d: %s\n", b, i, strerror(errno));
            check_failures++;
            npairs = i;
            break;
        }
        rd[i] = p[0];
        wr[i] = p[1];
        coro_fd_setup(rd[i]);
        coro_fd_setup(wr[i]);
        order[i] = i;
        if (p[1] > maxfd)
            maxfd = p[1];
    }
    coro_stats_t s0, s1;
    coro_get_stats(&s0);
    for (int i = 0; i < npairs; i++)
        coro_spawn(reader, (void *)(intptr_t)i);
    coro_spawn(writer, NULL);
    int64_t t0 = coro_now_ns();
    CHECK(coro_run() == 0, "%s: run", b);
    int64_t dt = coro_now_ns() - t0;
    coro_get_stats(&s1);
    int ok = 0, bad = 0;
    for (int i = 0; i < npairs; i++) {
        ok += got_ok[i] == ROUNDS;
        bad += got_bad[i];
    }
    CHECK(ok == npairs && bad == 0, "%s: %d of %d coroutines read exactly their data, %d bad reads",
          b, ok, npairs, bad);
    int64_t blocks = s1.read_blocks - s0.read_blocks;
    CHECK(blocks == (int64_t)ROUNDS * npairs, "%s: read_blocks %lld, expected %d", b,
          (long long)blocks, ROUNDS * npairs);
    for (int i = 0; i < npairs; i++) {
        coro_close(rd[i]);
        coro_close(wr[i]);
    }
    OK("%s: %d fd pairs (%d pipes + %d socketpairs, highest fd %d), one reader each, woken "
       "in random order %d times each: every coroutine read exactly its data, read_blocks = "
       "%lld (one per wait), %.1f ms\n", b, npairs, (npairs + 1) / 2, npairs / 2, maxfd, ROUNDS, (long long)blocks,
       dt / 1e6);
    CHECK(coro_runtime_destroy() == 0, "destroy");
    return 0;
}

int main(void)
{
    srand(4242);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = 2 * MAX_PAIRS + 64;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    int pairs = rl.rlim_cur >= want ? MAX_PAIRS : (int)(rl.rlim_cur - 64) / 2;
    CHECK(pairs >= 500, "RLIMIT_NOFILE %llu allows only %d pairs", (unsigned long long)rl.rlim_cur,
          pairs);

    FOR_EACH_BACKEND(b) {
        /* select: keep every fd below FD_SETSIZE (test_select_limit checks
         * the refusal above it). 3 stdio fds + 2 per pair + slack. */
        int n = strcmp(b, "select") == 0 ? (FD_SETSIZE - 32) / 2 : pairs;
        if (n > MAX_PAIRS)
            n = MAX_PAIRS;
        run_backend(b, n);
    }
    return check_finish("test_backend_many_fds");
}
