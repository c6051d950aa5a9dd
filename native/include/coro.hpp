/*
 * coro.hpp - the thin C++ layer over coro.h, in the spirit of coro++.
 * Header-only (C++17). Include it instead of coro.h from C++ code.
 *
 * A whole echo server:
 *
 *   coro::runtime rt;                            // shared stack + fastest backend
 *   coro::listener l(0);                         // 127.0.0.1, ephemeral port: l.port()
 *   coro::spawn([&l] {                           // any callable; copied to the heap
 *       for (;;) {
 *           coro::stream s(l.accept());          // owns the fd, closes it at scope end
 *           coro::spawn([s = std::move(s)]() mutable {
 *               for (std::string_view line; !(line = s.read_line()).empty();)
 *                   s.write_all(line);
 *           });
 *       }
 *   });
 *   rt.run();
 *
 * The pieces:
 *
 *   runtime(stack_bytes = 0, backend = nullptr)  coro_runtime_init / destroy (RAII); .run()
 *   spawn(f) -> handle        runs f() in a new coroutine (handle = coro_t *)
 *   yield() -> intptr_t       suspends until schedule(h, value); returns value
 *   yield_now()               lets every other runnable coroutine run once
 *   schedule(h, value = 0)    wakes a coroutine suspended in yield()
 *   sleep_ms(ms)
 *   with_timeout(ms, f)       runs f() under a deadline (RAII: class deadline):
 *                             every blocking call inside throws error with
 *                             timed_out() once ms have passed
 *   socket                    owns an fd (coro_close on destruction): read,
 *                             write_all, wait_readable/writable, shutdown_write
 *   connect(host, port)       -> socket;  socket_pair() -> two connected sockets
 *   listener(port, host)      coro_tcp_listen; accept() -> socket
 *   stream(socket&&)          owns a coro_stream_t: read_line -> string_view
 *                             (delimiter included; empty at a clean EOF; valid
 *                             until the next read), read, read_exact, write_all;
 *                             stream::tls(socket&&, tls_context, is_server)
 *   mutex, lock_guard, unique_lock, condition_variable (values on wake),
 *   semaphore, latch, fifo<T>  (bounded queue of T)
 *
 * Rules:
 *
 *  - Errors. Every wrapper that can fail throws coro::error, a
 *    std::system_error whose code().value() is the errno (ETIMEDOUT under
 *    with_timeout: e.timed_out()). Destructors, close() and unlock()/
 *    release()/count_down()/notify_*() never throw.
 *  - An exception escaping a spawned callable ends that coroutine only: it is
 *    reported on stderr with the coroutine's id and e.what(), and counted in
 *    coro_stats_t.coroutines_failed. The other coroutines carry on.
 *  - Stack copying: while a coroutine is suspended its locals are NOT at
 *    their addresses (another coroutine's frames are). Never let a coroutine
 *    reference another coroutine's locals: capture by value or move into
 *    spawned lambdas (the callable itself lives on the heap). Locals of
 *    main(), which runs the scheduler on the thread's own stack, are safe to
 *    capture by reference. The sync objects are cheap shared handles (copies
 *    refer to the same mutex, queue, ...), made to be captured by value.
 *  - Block only inside a coroutine, and through these wrappers when inside a
 *    catch block: they keep the C++ runtime's per-thread "exceptions being
 *    handled" state per coroutine, so a coroutine may block in a catch block
 *    while others throw and catch. The raw C calls do not.
 *  - Return from the callable to end a coroutine; coro_exit() skips C++
 *    destructors. Coroutines still suspended when the runtime is destroyed
 *    are freed without unwinding (their callables and locals leak).
 */
#ifndef CORO_HPP
#define CORO_HPP

#include "coro.h"

#include <cerrno>
#include <cstdint>
#include <cxxabi.h>
#include <memory>
#include <mutex>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include <sys/socket.h>

namespace coro {

using handle = coro_t *;

/* errno as an exception. what() is "<call>: <strerror>". */
class error : public std::system_error {
public:
    error(int err, const char *call) : std::system_error(err, std::generic_category(), call) {}
    int errno_value() const noexcept { return code().value(); }
    bool timed_out() const noexcept { return code().value() == ETIMEDOUT; }
};

namespace detail {

[[noreturn]] inline void throw_errno(const char *call)
{
    int e = errno;
    throw error(e, call);
}

/* The C++ ABI's per-thread exception state (Itanium C++ ABI 2.2.2, the
 * layout of both libstdc++ and libc++abi): the chain of exceptions being
 * handled in catch blocks and the count of exceptions in flight. It is
 * per thread, but every coroutine runs on the one thread, so a coroutine
 * that blocks inside a catch block would see its chain rewritten by the
 * others. Each blocking wrapper saves it before suspending and puts it back
 * after resuming. */
struct eh_globals {
    void *caught_exceptions;
    unsigned int uncaught_exceptions;
#ifdef __ARM_EABI_UNWINDER__
    void *propagating_exceptions;
#endif
};

inline eh_globals *eh_state() noexcept
{
    return reinterpret_cast<eh_globals *>(abi::__cxa_get_globals());
}

/* Runs a blocking C call with the exception state kept across it. The call
 * returns before anything is thrown: restoring the state while an exception
 * is in flight would undo the throw's own bookkeeping. */
template <class Call>
inline auto blocking(Call &&call)
{
    eh_globals saved = *eh_state();
    auto rc = call();
    *eh_state() = saved;
    return rc;
}

template <class Fn>
void trampoline(void *arg) noexcept
{
    /* A new coroutine handles no exception yet, whatever the one that ran
     * before it left behind. */
    *eh_state() = eh_globals{};
    std::unique_ptr<Fn> fn(static_cast<Fn *>(arg));
    try {
        (*fn)();
    } catch (const std::exception &e) {
        coro_report_failure(e.what());
    } catch (...) {
        coro_report_failure("unknown exception (not derived from std::exception)");
    }
}

/* A C handle shared by every copy of the C++ object that wraps it. */
template <class T>
inline std::shared_ptr<T> share(T *p, void (*destroy)(T *), const char *call)
{
    if (!p)
        throw_errno(call);
    return std::shared_ptr<T>(p, destroy);
}

} // namespace detail

/* ------------------------------------------------------------------------ */
/* Runtime and coroutines                                                    */

/* Runs the event loop until no coroutine is alive (or a deadlock, or
 * coro_loop_stop()). Returns the number of coroutines left (0 normally). */
inline int64_t run()
{
    int64_t n = detail::blocking([] { return coro_run(); });
    if (n < 0)
        detail::throw_errno("coro_run");
    return n;
}

inline coro_stats_t stats()
{
    coro_stats_t s;
    if (coro_get_stats(&s) < 0)
        detail::throw_errno("coro_get_stats");
    return s;
}

/* The runtime, for the scope of this object. stack_bytes 0 means 256 KiB;
 * backend nullptr means the fastest of this build ("epoll", "poll", ...). */
class runtime {
public:
    explicit runtime(int64_t stack_bytes = 0, const char *backend = nullptr)
    {
        if (coro_runtime_init(stack_bytes, backend) < 0)
            detail::throw_errno("coro_runtime_init");
    }
    ~runtime() { coro_runtime_destroy(); }
    runtime(const runtime &) = delete;
    runtime &operator=(const runtime &) = delete;

    int64_t run() { return coro::run(); }
    coro_stats_t stats() const { return coro::stats(); }
    const char *backend() const noexcept { return coro_backend_name(); }
};

/* Starts f() (any callable, copied or moved to the heap) in a new coroutine.
 * It runs when the scheduler next runs pending coroutines. */
template <class F>
handle spawn(F &&f)
{
    using Fn = std::decay_t<F>;
    auto fn = std::make_unique<Fn>(std::forward<F>(f));
    coro_t *c = coro_spawn(&detail::trampoline<Fn>, fn.get());
    if (!c)
        detail::throw_errno("coro_spawn");
    fn.release();
    return c;
}

inline handle current() noexcept { return coro_current(); }
/* Small positive id (what failure reports print); 0 outside a coroutine. */
inline int64_t id(handle h = coro_current()) noexcept { return coro_id(h); }

inline intptr_t yield()
{
    return detail::blocking([] { return coro_yield(); });
}

inline void yield_now()
{
    if (detail::blocking([] { return coro_yield_now(); }) < 0)
        detail::throw_errno("coro_yield_now");
}

/* Throws error(EBUSY) if h is not suspended in yield(). */
inline void schedule(handle h, intptr_t value = 0)
{
    if (coro_schedule(h, value) < 0)
        detail::throw_errno("coro_schedule");
}

inline void sleep_ms(int64_t ms)
{
    if (detail::blocking([ms] { return coro_sleep_ms(ms); }) < 0)
        detail::throw_errno("coro_sleep_ms");
}

/* A deadline for the blocking calls of the running coroutine while this
 * object lives; nested deadlines keep the earliest. */
class deadline {
public:
    explicit deadline(int64_t ms)
    {
        if (coro_deadline_push(ms) < 0)
            detail::throw_errno("coro_deadline_push");
    }
    ~deadline() { coro_deadline_pop(); }
    deadline(const deadline &) = delete;
    deadline &operator=(const deadline &) = delete;
};

/* Returns f(); a blocking call inside that outlasts ms throws error with
 * timed_out(). */
template <class F>
decltype(auto) with_timeout(int64_t ms, F &&f)
{
    deadline d(ms);
    return std::forward<F>(f)();
}

/* ------------------------------------------------------------------------ */
/* Sockets and streams                                                       */

/* Owns a non-blocking fd; closes it (waking any waiter with EBADF) on
 * destruction. Move-only. */
class socket {
public:
    socket() noexcept = default;
    explicit socket(int fd) noexcept : fd_(fd) {}
    socket(socket &&o) noexcept : fd_(o.release()) {}
    socket &operator=(socket &&o) noexcept
    {
        if (this != &o) {
            close();
            fd_ = o.release();
        }
        return *this;
    }
    ~socket() { close(); }

    int fd() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    int release() noexcept { return std::exchange(fd_, -1); }
    void close() noexcept
    {
        if (fd_ >= 0)
            coro_close(std::exchange(fd_, -1));
    }

    /* Bytes read (> 0), or 0 at end of stream. */
    size_t read(void *buf, size_t n)
    {
        int64_t r = detail::blocking([&] { return coro_read(fd_, buf, (int64_t)n); });
        if (r < 0)
            detail::throw_errno("coro_read");
        return (size_t)r;
    }
    void write_all(std::string_view data)
    {
        if (detail::blocking([&] { return coro_write_all(fd_, data.data(), (int64_t)data.size()); }) < 0)
            detail::throw_errno("coro_write_all");
    }
    void wait_readable()
    {
        if (detail::blocking([&] { return coro_wait_readable(fd_); }) < 0)
            detail::throw_errno("coro_wait_readable");
    }
    void wait_writable()
    {
        if (detail::blocking([&] { return coro_wait_writable(fd_); }) < 0)
            detail::throw_errno("coro_wait_writable");
    }
    void shutdown_write()
    {
        if (::shutdown(fd_, SHUT_WR) < 0)
            detail::throw_errno("shutdown");
    }
    /* Local port of a bound socket. */
    int port() const
    {
        int p = coro_socket_port(fd_);
        if (p < 0)
            detail::throw_errno("coro_socket_port");
        return p;
    }

private:
    int fd_ = -1;
};

/* TCP connection to host:port (waits for the connect). */
inline socket connect(const char *host, int port)
{
    int fd = detail::blocking([&] { return coro_tcp_connect(host, port); });
    if (fd < 0)
        detail::throw_errno("coro_tcp_connect");
    return socket(fd);
}

/* Two connected, non-blocking local stream sockets. */
inline std::pair<socket, socket> socket_pair()
{
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        detail::throw_errno("socketpair");
    std::pair<socket, socket> p{socket(sv[0]), socket(sv[1])};
    if (coro_fd_setup(sv[0]) < 0 || coro_fd_setup(sv[1]) < 0)
        detail::throw_errno("coro_fd_setup");
    return p;
}

/* A listening TCP socket (host nullptr means 127.0.0.1; port 0 picks an
 * ephemeral port, see port()). */
class listener {
public:
    explicit listener(int port = 0, const char *host = nullptr, int backlog = 1024)
        : sock_(coro_tcp_listen(host, port, backlog))
    {
        if (!sock_)
            detail::throw_errno("coro_tcp_listen");
    }
    int fd() const noexcept { return sock_.fd(); }
    int port() const { return sock_.port(); }
    /* Waits for a connection. Throws error (EMFILE/ENFILE: back off and
     * retry; EBADF once closed). */
    socket accept()
    {
        int fd = detail::blocking([&] { return coro_accept(sock_.fd()); });
        if (fd < 0)
            detail::throw_errno("coro_accept");
        return socket(fd);
    }
    void close() noexcept { sock_.close(); }

private:
    socket sock_;
};

/* TLS configuration shared by streams (OpenSSL behind coro.h). */
class tls_context {
public:
    static tls_context server(const char *cert_pem, const char *key_pem)
    {
        return tls_context(coro_tls_server_ctx(cert_pem, key_pem), "coro_tls_server_ctx");
    }
    static tls_context client() { return tls_context(coro_tls_client_ctx(), "coro_tls_client_ctx"); }
    coro_tls_ctx_t *get() const noexcept { return ctx_.get(); }

private:
    tls_context(coro_tls_ctx_t *ctx, const char *call) : ctx_(detail::share(ctx, coro_tls_ctx_free, call)) {}
    std::shared_ptr<coro_tls_ctx_t> ctx_;
};

/* A connection with a buffered reader: owns a coro_stream_t (and its fd).
 * Move-only; closes on destruction. */
class stream {
public:
    stream() noexcept = default;
    /* max_line_bytes limits read_line (0 means 64 KiB). */
    explicit stream(socket &&sock, int64_t max_line_bytes = 0)
        : s_(coro_stream_open(sock.fd(), max_line_bytes))
    {
        if (!s_)
            detail::throw_errno("coro_stream_open");
        sock.release();
    }
    /* Runs the TLS handshake; throws error (EPROTO when it fails). */
    static stream tls(socket &&sock, const tls_context &ctx, bool is_server, int64_t max_line_bytes = 0)
    {
        int fd = sock.release(); /* coro_stream_open_tls closes it on failure */
        coro_stream_t *s = detail::blocking(
            [&] { return coro_stream_open_tls(fd, max_line_bytes, ctx.get(), is_server ? 1 : 0); });
        if (!s)
            detail::throw_errno("coro_stream_open_tls");
        return stream(s);
    }
    stream(stream &&o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
    stream &operator=(stream &&o) noexcept
    {
        if (this != &o) {
            close();
            s_ = std::exchange(o.s_, nullptr);
        }
        return *this;
    }
    ~stream() { close(); }

    explicit operator bool() const noexcept { return s_ != nullptr; }
    int fd() const noexcept { return s_ ? coro_stream_fd(s_) : -1; }
    coro_stream_t *get() const noexcept { return s_; }

    /* The next line, delimiter included, pointing into the stream's buffer
     * (valid until the next read). Empty at a clean end of stream. Throws
     * error: EMSGSIZE (line over the limit), EPROTO (EOF inside a line). */
    std::string_view read_line(char delim = '\n')
    {
        const char *line = nullptr;
        int64_t n = detail::blocking([&] { return coro_stream_read_line(s_, &line, delim); });
        if (n < 0)
            detail::throw_errno("coro_stream_read_line");
        return std::string_view(line, (size_t)n);
    }
    /* Bytes read (> 0), or 0 at end of stream. */
    size_t read(void *buf, size_t n)
    {
        int64_t r = detail::blocking([&] { return coro_stream_read(s_, buf, (int64_t)n); });
        if (r < 0)
            detail::throw_errno("coro_stream_read");
        return (size_t)r;
    }
    /* Exactly n bytes; error(EPROTO) at an early end of stream. */
    void read_exact(void *buf, size_t n)
    {
        if (detail::blocking([&] { return coro_stream_read_exact(s_, buf, (int64_t)n); }) < 0)
            detail::throw_errno("coro_stream_read_exact");
    }
    void write_all(std::string_view data)
    {
        if (detail::blocking([&] { return coro_stream_write_all(s_, data.data(), (int64_t)data.size()); }) < 0)
            detail::throw_errno("coro_stream_write_all");
    }
    /* TLS close_notify if any, then shuts down the write side. */
    void shutdown()
    {
        if (detail::blocking([&] { return coro_stream_shutdown(s_); }) < 0)
            detail::throw_errno("coro_stream_shutdown");
    }
    void close() noexcept
    {
        if (s_)
            coro_stream_close(std::exchange(s_, nullptr));
    }

private:
    explicit stream(coro_stream_t *s) noexcept : s_(s) {}
    coro_stream_t *s_ = nullptr;
};

/* ------------------------------------------------------------------------ */
/* Sync primitives: shared handles (copies are the same object)             */

/* FIFO hand-off mutex; meets Lockable, so std::lock_guard/unique_lock work. */
class mutex {
public:
    mutex() : m_(detail::share(coro_mutex_create(), coro_mutex_destroy, "coro_mutex_create")) {}
    /* Throws error: ETIMEDOUT (deadline), EDEADLK (already the owner). */
    void lock()
    {
        if (detail::blocking([&] { return coro_mutex_lock(m_.get()); }) < 0)
            detail::throw_errno("coro_mutex_lock");
    }
    bool try_lock() noexcept { return coro_mutex_trylock(m_.get()) == 0; }
    /* Unlocking a mutex this coroutine does not own is a programming error
     * that the C call reports (EPERM) and this wrapper ignores. */
    void unlock() noexcept { coro_mutex_unlock(m_.get()); }
    coro_mutex_t *native_handle() const noexcept { return m_.get(); }

private:
    std::shared_ptr<coro_mutex_t> m_;
};

using lock_guard = std::lock_guard<mutex>;
using unique_lock = std::unique_lock<mutex>;

/* Wakes carry a value (what wait() returns). Waiters wake in FIFO order. */
class condition_variable {
public:
    condition_variable() : cv_(detail::share(coro_cond_create(), coro_cond_destroy, "coro_cond_create")) {}

    /* Waits for a wake; throws error(ETIMEDOUT) under an expired deadline. */
    intptr_t wait()
    {
        intptr_t value = 0;
        if (detail::blocking([&] { return coro_cond_wait(cv_.get(), &value); }) < 0)
            detail::throw_errno("coro_cond_wait");
        return value;
    }
    /* Unlocks lk, waits, locks lk again. The lock is held again when this
     * returns or throws, even after a timeout: then it is retaken by
     * try_lock/yield_now, since the expired deadline fails a plain lock. */
    intptr_t wait(unique_lock &lk)
    {
        mutex &m = *lk.mutex();
        lk.unlock();
        intptr_t value = 0;
        int rc = detail::blocking([&] { return coro_cond_wait(cv_.get(), &value); });
        int err = errno;
        if (detail::blocking([&] { return coro_mutex_lock(m.native_handle()); }) < 0)
            while (!m.try_lock())
                yield_now();
        lk = unique_lock(m, std::adopt_lock);
        if (rc < 0)
            throw error(err, "coro_cond_wait");
        return value;
    }
    template <class Pred>
    void wait(unique_lock &lk, Pred pred)
    {
        while (!pred())
            wait(lk);
    }
    /* Wake the longest waiter / every waiter with value; return how many. */
    int64_t notify_one(intptr_t value = 0) noexcept { return coro_cond_wake_one(cv_.get(), value); }
    int64_t notify_all(intptr_t value = 0) noexcept { return coro_cond_wake_all(cv_.get(), value); }
    int64_t waiters() const noexcept { return coro_cond_waiters(cv_.get()); }

private:
    std::shared_ptr<coro_cond_t> cv_;
};

class semaphore {
public:
    explicit semaphore(int64_t initial)
        : s_(detail::share(coro_sem_create(initial), coro_sem_destroy, "coro_sem_create"))
    {
    }
    void acquire()
    {
        if (detail::blocking([&] { return coro_sem_acquire(s_.get()); }) < 0)
            detail::throw_errno("coro_sem_acquire");
    }
    void release() noexcept { coro_sem_release(s_.get()); }
    int64_t value() const noexcept { return coro_sem_value(s_.get()); }

private:
    std::shared_ptr<coro_sem_t> s_;
};

/* count_down() count times releases every wait(). */
class latch {
public:
    explicit latch(int64_t count)
        : l_(detail::share(coro_latch_create(count), coro_latch_destroy, "coro_latch_create"))
    {
    }
    void count_down() noexcept { coro_latch_count_down(l_.get()); }
    void wait()
    {
        if (detail::blocking([&] { return coro_latch_wait(l_.get()); }) < 0)
            detail::throw_errno("coro_latch_wait");
    }

private:
    std::shared_ptr<coro_latch_t> l_;
};

/* Bounded queue of T (capacity >= 1): put waits while full, get while empty.
 * Items travel as heap copies of T through the C queue's intptr_t slots;
 * those still queued when the last handle goes are deleted with it. */
template <class T>
class fifo {
public:
    explicit fifo(int64_t capacity) : q_(make(capacity)) {}
    void put(T item)
    {
        auto p = std::make_unique<T>(std::move(item));
        if (detail::blocking([&] { return coro_fifo_put(q_.get(), reinterpret_cast<intptr_t>(p.get())); }) < 0)
            detail::throw_errno("coro_fifo_put");
        p.release();
    }
    T get()
    {
        intptr_t v = 0;
        if (detail::blocking([&] { return coro_fifo_get(q_.get(), &v); }) < 0)
            detail::throw_errno("coro_fifo_get");
        std::unique_ptr<T> p(reinterpret_cast<T *>(v));
        return std::move(*p);
    }
    int64_t size() const noexcept { return coro_fifo_size(q_.get()); }

private:
    static std::shared_ptr<coro_fifo_t> make(int64_t capacity)
    {
        coro_fifo_t *q = coro_fifo_create(capacity);
        if (!q)
            detail::throw_errno("coro_fifo_create");
        return std::shared_ptr<coro_fifo_t>(q, [](coro_fifo_t *q) {
            intptr_t v;
            while (coro_fifo_size(q) > 0 && coro_fifo_get(q, &v) == 0)
                delete reinterpret_cast<T *>(v);
            coro_fifo_destroy(q);
        });
    }
    std::shared_ptr<coro_fifo_t> q_;
};

} // namespace coro

#endif /* CORO_HPP */
