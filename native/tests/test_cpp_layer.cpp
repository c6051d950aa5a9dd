/* test_cpp_layer: the C++ layer (coro.hpp) as a demo server would use it:
 * lambdas capturing state by value and by move (and freed when their
 * coroutine ends), yield/schedule values, with_timeout (nested, on sleeps,
 * condition waits and stream reads), mutex/lock_guard/condition_variable,
 * semaphore, latch, fifo<T>, an echo over a socketpair with the stream
 * class, a TCP listener/connect round trip on an ephemeral port, and the
 * same over TLS. */
#include "coro.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <climits>
#include <libgen.h>
#include <unistd.h>
#include <string>
#include <vector>

extern "C" {
#include "../demos/lib/demo_proc.h"
}
#include "check.h"

static int64_t ms_since(int64_t t0_ns)
{
    return (coro_now_ns() - t0_ns) / 1000000;
}

/* Runs the loop and checks that every coroutine ended. */
static void run_all(coro::runtime &rt, const char *what)
{
    int64_t left = rt.run();
    CHECK(left == 0, "%s: %lld coroutines left", what, (long long)left);
}

static void test_spawn(coro::runtime &rt)
{
    std::vector<std::string> out; /* main's stack: safe to capture by reference */
    auto token = std::make_shared<int>(7);
    for (int i = 0; i < 3; i++) {
        std::string name = "c" + std::to_string(i);
        auto owned = std::make_unique<int>(i * 10);
        coro::spawn([&out, name, token, owned = std::move(owned)] {
            coro::yield_now(); /* the captures must survive a switch */
            out.push_back(name + ":" + std::to_string(*owned + *token));
        });
    }
    CHECK(token.use_count() == 4, "use_count %ld before run", token.use_count());
    run_all(rt, "spawn");
    CHECK(out.size() == 3 && out[0] == "c0:7" && out[1] == "c1:17" && out[2] == "c2:27",
          "captured state: %zu results", out.size());
    CHECK(token.use_count() == 1, "callables not freed: use_count %ld", token.use_count());
    OK("spawn: lambdas with by-value and moved captures survive a switch; "
                "their callables are freed when the coroutine ends\n");

    intptr_t got = 0;
    int busy_errno = 0;
    coro::handle h = coro::spawn([&got] { got = coro::yield(); });
    coro::spawn([h, &busy_errno] {
        try {
            coro::schedule(h, 77);
            coro::schedule(h, 78); /* already scheduled: EBUSY */
        } catch (const coro::error &e) {
            busy_errno = e.errno_value();
        }
    });
    run_all(rt, "schedule");
    CHECK(got == 77, "yield returned %ld", (long)got);
    CHECK(busy_errno == EBUSY, "second schedule: errno %d", busy_errno);
    OK("schedule(h, 77) -> yield() returns 77; scheduling twice throws error(EBUSY)\n");
}

static void test_timeout(coro::runtime &rt)
{
    bool timed_out = false, inner_timed_out = false, outer_ok = false;
    int value = 0;
    int64_t elapsed_ms = -1;
    coro::spawn([&] {
        int64_t t0 = coro_now_ns();
        try {
            coro::with_timeout(30, [] { coro::sleep_ms(2000); });
        } catch (const coro::error &e) {
            timed_out = e.timed_out();
            elapsed_ms = ms_since(t0);
        }
        value = coro::with_timeout(500, [] {
            coro::sleep_ms(2);
            return 42;
        });
        coro::with_timeout(2000, [&] {
            try {
                coro::with_timeout(10, [] { coro::sleep_ms(2000); });
            } catch (const coro::error &e) {
                inner_timed_out = e.timed_out();
            }
            coro::sleep_ms(20); /* the outer deadline still allows this */
            outer_ok = true;
        });
        coro::sleep_ms(40); /* and no deadline is left over */
    });
    run_all(rt, "with_timeout");
    CHECK(timed_out, "sleep under with_timeout(30) did not time out");
    CHECK(elapsed_ms >= 25 && elapsed_ms < 1000, "timed out after %lld ms", (long long)elapsed_ms);
    CHECK(value == 42, "with_timeout returned %d", value);
    CHECK(inner_timed_out && outer_ok, "nested: inner %d outer %d", inner_timed_out, outer_ok);
    OK("with_timeout: sleep times out after %lld ms (30 asked) with error.timed_out(); "
                "returns f()'s value; nested deadlines; popped at scope end\n",
                (long long)elapsed_ms);
}

static void test_mutex_condvar(coro::runtime &rt)
{
    coro::mutex m;
    coro::condition_variable cv;
    std::deque<int> queue;
    int inside = 0, max_inside = 0, consumed_sum = 0, consumed_n = 0;
    const int producers = 3, items = 100, consumers = 2;
    int producers_left = producers;

    for (int p = 0; p < producers; p++)
        coro::spawn([=, &queue, &inside, &max_inside, &producers_left]() mutable {
            for (int i = 1; i <= items; i++) {
                coro::lock_guard g(m);
                if (++inside > max_inside)
                    max_inside = inside;
                coro::yield_now(); /* others run and must queue on the mutex */
                queue.push_back(i);
                inside--;
                cv.notify_one();
            }
            coro::lock_guard g(m);
            producers_left--;
            cv.notify_all();
        });
    for (int c = 0; c < consumers; c++)
        coro::spawn([=, &queue, &consumed_sum, &consumed_n, &producers_left]() mutable {
            coro::unique_lock lk(m);
            for (;;) {
                cv.wait(lk, [&] { return !queue.empty() || producers_left == 0; });
                if (queue.empty())
                    break;
                consumed_sum += queue.front();
                consumed_n++;
                queue.pop_front();
            }
        });
    run_all(rt, "mutex/condvar");
    CHECK(max_inside == 1, "mutual exclusion broken: %d inside at once", max_inside);
    CHECK(consumed_n == producers * items && consumed_sum == producers * items * (items + 1) / 2,
          "consumed %d items, sum %d", consumed_n, consumed_sum);
    OK("mutex/lock_guard: one holder at a time across yields; condition_variable "
                "with unique_lock and predicate: %d items from %d producers to %d consumers\n",
                consumed_n, producers, consumers);

    intptr_t woken_with = 0;
    bool relocked = false, timed_out = false, other_blocked = false, done = false;
    coro::spawn([=, &woken_with]() mutable { woken_with = cv.wait(); });
    coro::spawn([=]() mutable { cv.notify_one(123); });
    run_all(rt, "notify value");
    CHECK(woken_with == 123, "wait() returned %ld", (long)woken_with);

    coro::spawn([=, &relocked, &timed_out, &other_blocked, &done]() mutable {
        coro::unique_lock lk(m);
        try {
            coro::with_timeout(20, [&] { cv.wait(lk); });
        } catch (const coro::error &e) {
            timed_out = e.timed_out();
        }
        relocked = lk.owns_lock();
        /* `done` lives on main's stack: a local of this coroutine would not
         * be at its address while the other coroutine runs. */
        coro::spawn([=, &other_blocked, &done]() mutable {
            other_blocked = !m.try_lock();
            done = true;
        });
        while (!done)
            coro::yield_now();
    });
    run_all(rt, "condvar timeout");
    CHECK(timed_out, "cv.wait(lk) under with_timeout(20) did not time out");
    CHECK(relocked && other_blocked, "lock not held after a timed-out wait (%d, %d)", relocked,
          other_blocked);
    OK("condition_variable: notify_one(123) -> wait() == 123; a timed-out wait(lk) "
                "throws timed_out and still holds the lock\n");
}

static void test_sem_latch_fifo(coro::runtime &rt)
{
    coro::semaphore sem(2);
    int in_use = 0, max_in_use = 0, done = 0;
    for (int i = 0; i < 6; i++)
        coro::spawn([=, &in_use, &max_in_use, &done]() mutable {
            sem.acquire();
            if (++in_use > max_in_use)
                max_in_use = in_use;
            coro::sleep_ms(2);
            in_use--;
            sem.release();
            done++;
        });
    run_all(rt, "semaphore");
    CHECK(max_in_use == 2 && done == 6 && sem.value() == 2, "semaphore: max %d done %d value %lld",
          max_in_use, done, (long long)sem.value());

    coro::latch gate(3);
    int arrived = 0, seen_by_waiter = -1;
    coro::spawn([=, &arrived, &seen_by_waiter]() mutable {
        gate.wait();
        seen_by_waiter = arrived;
    });
    for (int i = 0; i < 3; i++)
        coro::spawn([=, &arrived]() mutable {
            coro::sleep_ms(1 + i);
            arrived++;
            gate.count_down();
        });
    run_all(rt, "latch");
    CHECK(seen_by_waiter == 3, "latch released after %d count_downs", seen_by_waiter);

    coro::fifo<std::string> q(2);
    std::vector<std::string> got;
    coro::spawn([=]() mutable {
        for (int i = 0; i < 10; i++)
            q.put("item-" + std::to_string(i)); /* blocks while 2 are queued */
        q.put("");
    });
    coro::spawn([=, &got]() mutable {
        for (std::string s; !(s = q.get()).empty();)
            got.push_back(s);
    });
    run_all(rt, "fifo");
    bool in_order = got.size() == 10;
    for (size_t i = 0; in_order && i < got.size(); i++)
        in_order = got[i] == "item-" + std::to_string(i);
    CHECK(in_order, "fifo<string>: %zu items, out of order or lost", got.size());

    auto token = std::make_shared<int>(1);
    {
        coro::fifo<std::shared_ptr<int>> left(4);
        coro::spawn([=]() mutable {
            left.put(token);
            left.put(token);
        });
        run_all(rt, "fifo leftovers");
        CHECK(left.size() == 2 && token.use_count() == 3, "leftovers: size %lld, use_count %ld",
              (long long)left.size(), token.use_count());
    }
    CHECK(token.use_count() == 1, "items left in a fifo were not deleted: use_count %ld",
          token.use_count());
    OK("semaphore(2): at most 2 holders of 6; latch(3) releases after 3 count_downs; "
                "fifo<string>(2) keeps order; items left in a fifo are deleted with it\n");
}

static void test_streams(coro::runtime &rt)
{
    auto [a, b] = coro::socket_pair();
    const std::string big(50 * 1024, 'x');
    std::vector<std::string> echoed;
    int64_t server_lines = 0;
    bool clean_eof = false;
    coro::spawn([s = coro::stream(std::move(a), 256 * 1024), &server_lines]() mutable {
        for (std::string_view line; !(line = s.read_line()).empty(); server_lines++)
            s.write_all(line);
    });
    coro::spawn([c = coro::stream(std::move(b)), &big, &echoed, &clean_eof]() mutable {
        c.write_all("hello\n");
        c.write_all("crlf line\r\nsecond\n");
        c.write_all(big + "\n");
        c.shutdown(); /* the server sees EOF after the last line */
        char first[6];
        c.read_exact(first, 6);
        echoed.emplace_back(first, 6);
        for (std::string_view line; !(line = c.read_line()).empty();)
            echoed.emplace_back(line);
        clean_eof = true;
    });
    run_all(rt, "socketpair echo");
    CHECK(server_lines == 4, "server echoed %lld lines", (long long)server_lines);
    CHECK(echoed.size() == 4 && echoed[0] == "hello\n" && echoed[1] == "crlf line\r\n" &&
              echoed[2] == "second\n" && echoed[3] == big + "\n" && clean_eof,
          "echo mismatch: %zu lines", echoed.size());
    OK("stream echo over a socketpair: read_line (LF, CRLF, a 50 KiB line), "
                "read_exact, write_all, shutdown -> clean EOF\n");

    auto [x, y] = coro::socket_pair();
    int too_long_errno = 0;
    bool read_timed_out = false;
    coro::spawn([s = coro::stream(std::move(x), 16), peer = std::move(y), &too_long_errno,
                 &read_timed_out]() mutable {
        try {
            coro::with_timeout(20, [&] { s.read_line(); });
        } catch (const coro::error &e) {
            read_timed_out = e.timed_out();
        }
        peer.write_all("this line is longer than sixteen bytes\n");
        try {
            s.read_line();
        } catch (const coro::error &e) {
            too_long_errno = e.errno_value();
        }
    });
    run_all(rt, "stream errors");
    CHECK(read_timed_out, "read_line under with_timeout(20) with a silent peer did not time out");
    CHECK(too_long_errno == EMSGSIZE, "line over the limit: errno %d", too_long_errno);
    OK("stream: read_line times out under with_timeout; a line over max_line_bytes "
                "throws error(EMSGSIZE)\n");

    coro::listener l(0);
    int port = l.port();
    std::string reply;
    coro::spawn([&l] {
        coro::stream s(l.accept());
        s.write_all(std::string("pong:") + std::string(s.read_line()));
    });
    coro::spawn([port, &reply] {
        coro::stream s(coro::connect("127.0.0.1", port));
        s.write_all("ping\n");
        reply = s.read_line();
    });
    run_all(rt, "tcp");
    CHECK(port > 0 && reply == "pong:ping\n", "tcp reply '%s' on port %d", reply.c_str(), port);
    OK("listener(0) on port %d: accept + connect, one line each way\n", port);

    int refused = 0;
    coro::spawn([&refused] {
        coro::listener closed(0);
        int p = closed.port();
        closed.close();
        try {
            coro::connect("127.0.0.1", p);
        } catch (const coro::error &e) {
            refused = e.errno_value();
        }
    });
    run_all(rt, "refused");
    CHECK(refused == ECONNREFUSED, "connect to a closed port: errno %d", refused);
    OK("connect to a closed port throws error(ECONNREFUSED)\n");
}

/* TLS with the build's test certificate (build/tls/, next to tests/). */
static void test_tls(coro::runtime &rt)
{
    char cert_path[PATH_MAX], key_path[PATH_MAX];
    if (demo_exe_relative("../tls/cert.pem", cert_path, sizeof cert_path) < 0 ||
        demo_exe_relative("../tls/key.pem", key_path, sizeof key_path) < 0)
        cert_path[0] = key_path[0] = '\0';
    std::string cert = cert_path, key = key_path;
    if (std::strcmp(coro_tls_library(), "none") == 0 || access(cert.c_str(), R_OK) != 0) {
        std::printf("skip: TLS stream (no TLS library or no %s)\n", cert.c_str());
        return;
    }
    auto server_ctx = coro::tls_context::server(cert.c_str(), key.c_str());
    auto client_ctx = coro::tls_context::client();
    coro::listener l(0);
    int port = l.port();
    std::string reply;
    coro::spawn([&l, server_ctx] {
        auto s = coro::stream::tls(l.accept(), server_ctx, true);
        s.write_all(std::string("tls:") + std::string(s.read_line()));
        s.shutdown();
    });
    coro::spawn([port, client_ctx, &reply] {
        auto s = coro::stream::tls(coro::connect("127.0.0.1", port), client_ctx, false);
        s.write_all("hello\n");
        reply = s.read_line();
        CHECK(s.read_line().empty(), "no clean EOF after close_notify");
    });
    run_all(rt, "tls");
    CHECK(reply == "tls:hello\n", "tls reply '%s'", reply.c_str());
    OK("stream::tls over TCP with tls_context::server/client: handshake, one line each way, "
       "close_notify -> clean EOF\n");
}

int main()
{
    try {
        coro::runtime rt;
        test_spawn(rt);
        test_timeout(rt);
        test_mutex_condvar(rt);
        test_sem_latch_fifo(rt);
        test_streams(rt);
        test_tls(rt);
        coro_stats_t st = rt.stats();
        CHECK(st.coroutines_failed == 0 && st.live_coroutines == 0, "failed %lld, live %lld",
              (long long)st.coroutines_failed, (long long)st.live_coroutines);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "FAIL: uncaught on the scheduler stack: %s\n", e.what());
        return 1;
    }
    try {
        coro::spawn([] {});
        CHECK(false, "spawn without a runtime did not throw");
    } catch (const coro::error &e) {
        CHECK(e.errno_value() == ENOENT, "spawn without a runtime: errno %d", e.errno_value());
    }
    OK("spawn without a runtime throws error(ENOENT)\n");
    return check_finish("test_cpp_layer");
}
