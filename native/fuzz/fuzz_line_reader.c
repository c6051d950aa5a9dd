/*
 * fuzz_line_reader - libFuzzer target for the stream's line reader.
 *
 * Property: whatever the chunking of the input across reads, the lines
 * coro_stream_read_line returns are exactly a naive split of the same bytes
 * at the delimiter; a line longer than the limit (delimiter included) fails
 * with EMSGSIZE; input that ends in the middle of a line fails with EPROTO;
 * the end of input at a line boundary returns 0. Optionally a fixed number
 * of raw bytes is read with coro_stream_read_exact after every line, which
 * checks that the line scanner and the raw reader agree on what is consumed
 * (EPROTO when fewer bytes remain).
 *
 * Input layout (the header is consumed; the rest is the stream's content):
 *   byte 0     line limit: 0..127 -> 1..128 bytes, 128..255 -> 1 + (b-128)*40
 *              (up to 5081, past the reader's first 1 KiB buffer)
 *   byte 1     delimiter: 0..199 -> '\n', 200..255 -> the byte b-200 (0..55,
 *              which includes NUL, '\r', ' ' and digits)
 *   byte 2     raw bytes read after each line: b>>1 if b&1, else none
 *   bytes 3-10 chunk schedule of the writer (each chunk 1..256 bytes)
 */
#include "fuzz_support.h"

#define HEADER 11

static struct {
    /* the case */
    const uint8_t *data;
    size_t len;
    int64_t limit;
    char delim;
    size_t exact;
    /* the reader's side */
    coro_stream_t *stream;
    uint8_t exact_buf[128];
    int64_t lines;
    bool finished;
} t;

static fuzz_writer_t writer;

/* Index of the next delimiter at or after pos, or len. */
static size_t next_delim(size_t pos)
{
    const void *p = memchr(t.data + pos, (unsigned char)t.delim, t.len - pos);
    return p ? (size_t)((const uint8_t *)p - t.data) : t.len;
}

static void reader_fn(void *arg)
{
    (void)arg;
    size_t pos = 0; /* the model: bytes of t.data consumed so far */
    for (;;) {
        const char *line = NULL;
        int64_t n = coro_stream_read_line(t.stream, &line, t.delim);
        int err = errno;
        size_t d = next_delim(pos);
        if (d < t.len) {
            size_t want = d + 1 - pos;
            if ((int64_t)want > t.limit) {
                if (n != -1 || err != EMSGSIZE)
                    fuzz_fail("line %lld: %zu bytes > limit %lld: want EMSGSIZE, got %lld "
                              "(errno %d)", (long long)t.lines, want, (long long)t.limit,
                              (long long)n, n < 0 ? err : 0);
                break;
            }
            if (n != (int64_t)want)
                fuzz_fail("line %lld: want %zu bytes, got %lld (errno %d)", (long long)t.lines,
                          want, (long long)n, n < 0 ? err : 0);
            if (memcmp(line, t.data + pos, want) != 0)
                fuzz_fail("line %lld: content differs from the input", (long long)t.lines);
            pos += want;
            t.lines++;
        } else {
            size_t rest = t.len - pos;
            if (rest == 0) {
                if (n != 0)
                    fuzz_fail("at the end: want 0 (EOF), got %lld (errno %d)", (long long)n,
                              n < 0 ? err : 0);
            } else if ((int64_t)rest >= t.limit) {
                /* The limit's worth of bytes is there without a delimiter:
                 * the line is too long whatever follows. */
                if (n != -1 || err != EMSGSIZE)
                    fuzz_fail("unterminated %zu bytes >= limit %lld: want EMSGSIZE, got %lld "
                              "(errno %d)", rest, (long long)t.limit, (long long)n,
                              n < 0 ? err : 0);
            } else if (n != -1 || err != EPROTO) {
                fuzz_fail("EOF after %zu bytes of a line: want EPROTO, got %lld (errno %d)", rest,
                          (long long)n, n < 0 ? err : 0);
            }
            break;
        }
        if (t.exact) {
            int64_t r = coro_stream_read_exact(t.stream, t.exact_buf, (int64_t)t.exact);
            err = errno;
            if (t.len - pos < t.exact) {
                if (r != -1 || err != EPROTO)
                    fuzz_fail("read_exact(%zu) with %zu left: want EPROTO, got %lld (errno %d)",
                              t.exact, t.len - pos, (long long)r, r < 0 ? err : 0);
                break;
            }
            if (r != (int64_t)t.exact || memcmp(t.exact_buf, t.data + pos, t.exact) != 0)
                fuzz_fail("read_exact(%zu) after line %lld: got %lld or other bytes", t.exact,
                          (long long)t.lines, (long long)r);
            pos += t.exact;
        }
    }
    t.finished = true;
    /* Closing our end also stops a writer that still has input to send
     * (EPIPE) after an early error. */
    coro_stream_close(t.stream);
    t.stream = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER)
        return 0;
    fuzz_runtime();

    memset(&t, 0, sizeof t);
    t.limit = data[0] < 128 ? 1 + data[0] : 1 + (int64_t)(data[0] - 128) * 40;
    t.delim = data[1] < 200 ? '\n' : (char)(data[1] - 200);
    t.exact = (data[2] & 1) ? data[2] >> 1 : 0;
    t.data = data + HEADER;
    t.len = size - HEADER;

    int fds[2];
    fuzz_socketpair(fds);
    t.stream = coro_stream_open(fds[0], t.limit);
    if (!t.stream)
        fuzz_fail("coro_stream_open(limit %lld) failed: errno %d", (long long)t.limit, errno);

    memset(&writer, 0, sizeof writer);
    writer.fd = fds[1];
    writer.data = t.data;
    writer.len = t.len;
    memcpy(writer.schedule, data + 3, 8);
    writer.close_when_done = true;

    if (!coro_spawn(reader_fn, NULL) || !coro_spawn(fuzz_writer_fn, &writer))
        fuzz_fail("coro_spawn failed");
    fuzz_run();
    if (!t.finished)
        fuzz_fail("the reader did not finish");
    /* The writer only fails once the reader has stopped early. */
    if (writer.error && writer.error != EPIPE && writer.error != ECONNRESET)
        fuzz_fail("writer failed with errno %d", writer.error);
    return 0;
}
