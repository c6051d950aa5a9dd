/* fuzz_regress_echo_session: inputs that made native/fuzz/fuzz_echo_session
 * hang, replayed through the same target (its echo-protocol model and its
 * "every coroutine ends" check) under an alarm.
 *
 * The bug: with edge-triggered epoll, when a peer's last bytes and its
 * close arrive in one event, the first read is short and the core took that
 * to mean "drained, wait for the next event"; no event ever comes for an
 * EOF, so the reader waited forever (echo_server kept the session and its
 * fd). Fixed in fd.c by remembering the hang-up (read_final); the same case
 * without the fuzz harness is test_eof_after_short_read. The target runs
 * echo_server's own session code (demos/lib/echo_session.c). */
#include "../fuzz/fuzz_echo_session.c"
#include "../fuzz/fuzz_replay.h"

/* Limit 64 KiB, !shutdown refused; echo, !bench, !bench json, a refused
 * !shutdown, an unknown command, then !quit with a line still unread: the
 * server closes, and the client's reader gets the last reply and the
 * hang-up together. Hung before the fix (it is also the seed corpus file
 * fuzz_echo_session/conversation). */
static const uint8_t quit_with_unread_input[] = {
    0xff, 0x00, 0x00, 0x01, 0x02, 0x03, 0x07, 0x0f, 0x3f, 0xff, 0x68, 0x65,
    0x6c, 0x6c, 0x6f, 0x0d, 0x0a, 0x77, 0x6f, 0x72, 0x6c, 0x64, 0x0a, 0x21,
    0x62, 0x65, 0x6e, 0x63, 0x68, 0x0d, 0x0a, 0x21, 0x62, 0x65, 0x6e, 0x63,
    0x68, 0x20, 0x6a, 0x73, 0x6f, 0x6e, 0x0d, 0x0a, 0x21, 0x73, 0x68, 0x75,
    0x74, 0x64, 0x6f, 0x77, 0x6e, 0x0d, 0x0a, 0x21, 0x75, 0x6e, 0x6b, 0x6e,
    0x6f, 0x77, 0x6e, 0x0d, 0x0a, 0x62, 0x79, 0x65, 0x0d, 0x0a, 0x21, 0x71,
    0x75, 0x69, 0x74, 0x0d, 0x0a, 0x6e, 0x6f, 0x74, 0x20, 0x65, 0x63, 0x68,
    0x6f, 0x65, 0x64, 0x0d, 0x0a,
};

/* Limit 3, !shutdown allowed: the line "\0\n" and a partial "\0" at EOF.
 * The first input the fuzzer reported as a hang; it passed again once fresh
 * fds started as "readiness unknown" (before the fix above), and stays as a
 * case of a session that ends on EOF in the middle of a line. */
static const uint8_t eof_mid_line_limit_3[] = {
    0x00, 0x1d, 0x1d, 0x1d, 0x1d, 0x1d, 0x1d, 0x1d, 0x00, 0x00, 0x00, 0x0a,
    0x00,
};

int main(void)
{
    fuzz_replay("fuzz_echo_session hang: !quit with input unread, reply and hang-up in one event",
                quit_with_unread_input, sizeof quit_with_unread_input);
    fuzz_replay("fuzz_echo_session hang: limit 3, EOF in the middle of a line",
                eof_mid_line_limit_3, sizeof eof_mid_line_limit_3);
    echo_session_close_all(); /* none is open: frees the table of open sessions */
    coro_runtime_destroy();
    return 0;
}
