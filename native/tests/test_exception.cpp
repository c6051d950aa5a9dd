/* test_exception: an exception escaping a coroutine (coro.hpp) ends that
 * coroutine only. Checks that the failure is reported on stderr with the
 * coroutine's id and the message, counted in coroutines_failed, that the
 * other coroutines finish normally, that unwinding after stack copies runs
 * every destructor, that non-std exceptions are reported too, and that
 * coroutines blocking inside catch blocks each keep their own "exception
 * being handled" (std::current_exception) while others throw. */
#include "coro.hpp"

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unistd.h>

#include "check.h"

/* Runs the loop with stderr captured; returns what was written there. */
static std::string run_capturing_stderr(int64_t *left)
{
    std::FILE *tmp = std::tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    *left = coro::run();
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::string text;
    std::rewind(tmp);
    char buf[512];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, tmp)) > 0;)
        text.append(buf, n);
    std::fclose(tmp);
    return text;
}

static int destructed;
struct counted {
    ~counted() { destructed++; }
};

/* Recurses with a destructor in every frame, yielding on the way down so
 * the frames have been copied off and back before the throw unwinds them. */
static int deep_then_throw(int depth)
{
    counted c;
    char pad[64];
    std::memset(pad, depth, sizeof pad);
    coro::yield_now();
    if (depth == 0)
        throw std::runtime_error("thrown at the bottom");
    return deep_then_throw(depth - 1) + pad[depth % sizeof pad];
}

/* Handles its own exception across yields and checks it is still the one
 * being handled each time it resumes. */
static void catch_and_yield(const std::string &tag, int rounds, int *good)
{
    try {
        throw std::runtime_error(tag);
    } catch (const std::exception &) {
        for (int i = 0; i < rounds; i++) {
            coro::yield_now();
            try {
                throw; /* rethrows the exception this coroutine is handling */
            } catch (const std::exception &again) {
                if (tag == again.what())
                    ++*good;
            }
        }
    }
}

int main()
{
    coro::runtime rt;
    int done_a = 0, done_b = 0;
    coro::spawn([&done_a] {
        for (int i = 0; i < 5; i++) {
            coro::sleep_ms(1);
            done_a++;
        }
    });
    coro::handle thrower = coro::spawn([] {
        coro::yield_now();
        coro::sleep_ms(2);
        throw std::runtime_error("disk on fire (code 1234)");
    });
    coro::spawn([&done_b] {
        for (int i = 0; i < 5; i++) {
            coro::sleep_ms(1);
            done_b++;
        }
    });
    int64_t thrower_id = coro::id(thrower);
    int64_t left = 0;
    std::string err = run_capturing_stderr(&left);
    coro_stats_t st = rt.stats();
    std::string expect_id = "#" + std::to_string(thrower_id) + " ";
    CHECK(left == 0, "%lld coroutines left", (long long)left);
    CHECK(err.find(expect_id) != std::string::npos, "stderr lacks the id '%s': %s",
          expect_id.c_str(), err.c_str());
    CHECK(err.find("disk on fire (code 1234)") != std::string::npos, "stderr lacks the message: %s",
          err.c_str());
    CHECK(st.coroutines_failed == 1, "coroutines_failed %lld", (long long)st.coroutines_failed);
    CHECK(done_a == 5 && done_b == 5, "others did not finish: %d %d", done_a, done_b);
    CHECK(st.live_coroutines == 0, "live %lld", (long long)st.live_coroutines);
    std::string first_line = err.substr(0, err.find('\n'));
    OK("std::exception in coroutine #%lld reported (\"%s\"); coroutines_failed == 1; the 2 "
       "others finished\n",
       (long long)thrower_id, first_line.c_str());

    bool caught_outside = false;
    coro::spawn([] { deep_then_throw(200); });
    coro::spawn([] { /* alternates with it, so every one of its yields copies */
        for (int i = 0; i < 250; i++)
            coro::yield_now();
    });
    coro::spawn([] { throw 42; });
    coro::spawn([] { coro::with_timeout(5, [] { coro::sleep_ms(1000); }); });
    try {
        err = run_capturing_stderr(&left);
    } catch (...) {
        caught_outside = true;
    }
    st = rt.stats();
    CHECK(!caught_outside && left == 0, "an exception crossed into the scheduler");
    CHECK(destructed == 201, "%d of 201 destructors ran while unwinding", destructed);
    CHECK(err.find("thrown at the bottom") != std::string::npos, "deep throw not reported: %s",
          err.c_str());
    CHECK(err.find("unknown exception") != std::string::npos, "throw 42 not reported: %s",
          err.c_str());
    CHECK(err.find("coro_sleep_ms") != std::string::npos, "coro::error not reported: %s",
          err.c_str());
    CHECK(st.coroutines_failed == 4, "coroutines_failed %lld", (long long)st.coroutines_failed);
    OK("unwinding 201 frames, copied off and back at each yield, ran every destructor; `throw 42` and an "
       "uncaught coro::error (timeout) are reported too; coroutines_failed == 4\n");

    const int rounds = 50;
    int good_a = 0, good_b = 0, good_c = 0;
    coro::spawn([&] { catch_and_yield("exception of A", rounds, &good_a); });
    coro::spawn([&] { catch_and_yield("exception of B", rounds, &good_b); });
    coro::spawn([&] {
        for (int i = 0; i < rounds; i++) {
            try {
                throw std::logic_error("short-lived");
            } catch (const std::exception &) {
                good_c++;
            }
            coro::yield_now();
        }
    });
    left = coro::run();
    CHECK(left == 0, "%lld left", (long long)left);
    CHECK(good_a == rounds && good_b == rounds && good_c == rounds,
          "current exception lost across yields: A %d B %d C %d of %d", good_a, good_b, good_c,
          rounds);
    CHECK(!std::current_exception(), "the scheduler stack is left handling an exception");
    CHECK(rt.stats().coroutines_failed == 4, "a catch-and-yield coroutine died");
    OK("two coroutines yielding inside catch blocks while a third throws: each rethrows its own "
       "exception after every resume (%d rounds)\n",
       rounds);

    return check_finish("test_exception");
}
