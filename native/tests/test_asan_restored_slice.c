/* test_asan_restored_slice: under AddressSanitizer, an overflow of a local
 * array is still caught after its frame was saved, overwritten by another
 * coroutine's frames and restored (the slice's shadow travels with it,
 * coroutine.c). Passes when ASan reports the overflow (its death callback
 * exits 0), fails when the write goes unnoticed. In a build without ASan
 * there is nothing to check, and it says so. */
#include "coro.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif

#ifdef HAVE_ASAN
#include <sanitizer/asan_interface.h>

static volatile int past_the_end = 16;

static void on_asan_report(void)
{
    printf("ok: ASan caught an overflow of a local after its frame was restored\n");
    fflush(stdout);
    _exit(0);
}

static void victim(void *arg)
{
    (void)arg;
    char local[16];
    memset(local, 'v', sizeof local);
    coro_yield_now(); /* saved; the other coroutine's frames take its place */
    CHECK(local[0] == 'v' && local[15] == 'v', "the local survived the round trip");
    /* Through a pointer the compiler cannot trace back to `local`, so that
     * UBSan's bounds and object-size checks leave the overflow to ASan. */
    char *p = local;
    __asm__("" : "+r"(p));
    p[past_the_end] = 'x'; /* one past the end: into the redzone */
    printf("not ok: the overflow went unnoticed\n");
    exit(check_finish("test_asan_restored_slice") + 1);
}

static void clobber(void *arg)
{
    (void)arg;
    char deep[512];
    memset(deep, 'c', sizeof deep);
    coro_yield_now();
    CHECK(deep[511] == 'c', "the other coroutine's local survived too");
}
#endif

int main(void)
{
#ifdef HAVE_ASAN
    __asan_set_death_callback(on_asan_report);
    CHECK(coro_runtime_init(0, NULL) == 0, "init");
    CHECK(coro_spawn(victim, NULL) != NULL, "spawn victim");
    CHECK(coro_spawn(clobber, NULL) != NULL, "spawn clobber");
    coro_run();
    printf("not ok: the victim never reached its overflow\n");
    return 1;
#else
    printf("ok: skipped (not built with AddressSanitizer: nothing to check)\n");
    return check_finish("test_asan_restored_slice");
#endif
}
