/*
 * fuzz_smtp_session - libFuzzer target for the SMTP engine
 * (native/demos/lib/smtp_session.c): the command parser, the DATA reader
 * and the line framer, driven the way smtp_server drives them.
 */
/* fuzz-requires: demos/lib/smtp_session.c */
/*
 * Properties, in both modes below:
 *  - no crash, no out-of-bounds access, no leak (ASan/UBSan/LSan);
 *  - the reply buffer never exceeds SMTP_OUT_CAP and holds only complete
 *    reply lines "DDD..." + CRLF with a 2xx-5xx code; a kept body chunk
 *    never exceeds SMTP_BODY_CHUNK + SMTP_LINE_MAX;
 *  - smtp_session_feed always makes progress (or asks for a flush that
 *    makes room) and never claims more bytes than it was given;
 *  - chunking does not matter: the transcript (replies, actions, stored
 *    messages) is the same when the input is fed in one piece and when it
 *    is fed in the chunks of the input's schedule.
 * Mode 1 adds a model of the DATA reader: the input's payload is a message
 * body that the harness dot-stuffs into a full conversation; the engine must
 * store exactly that body, or reject it with 500 (a line over SMTP_LINE_MAX)
 * or 552 (over max_message_bytes), whichever a naive walk hits first.
 *
 * Input layout (the header is consumed):
 *   byte 0     bit 0 keep_body, bit 1 peer_is_loopback, bit 2 mode 1,
 *              bits 3-7: max_message_bytes = v * 97 (0: the default 10 MiB)
 *   bytes 1-8  chunk schedule (each chunk 1..256 bytes)
 *   the rest   mode 0: what the client sends; mode 1: the message body
 */
#include "../demos/lib/smtp_session.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER 9

static void __attribute__((noreturn, format(printf, 1, 2))) fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: property violated: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

/* A growable byte string. */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q)
            fail("out of memory");
        b->p = q;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void buf_str(buf_t *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* Checks that the reply buffer holds whole reply lines only. */
static void check_out(const smtp_session_t *s)
{
    size_t len;
    const char *out = smtp_session_out(s, &len);
    if (len > SMTP_OUT_CAP)
        fail("reply buffer holds %zu bytes > SMTP_OUT_CAP", len);
    size_t i = 0;
    while (i < len) {
        const char *eol = memchr(out + i, '\n', len - i);
        if (!eol)
            fail("reply buffer ends in a partial line");
        size_t n = (size_t)(eol + 1 - (out + i));
        const char *l = out + i;
        if (n < 5 || l[n - 2] != '\r' || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' ||
            l[2] < '0' || l[2] > '9' || (n > 5 && l[3] != ' ' && l[3] != '-'))
            fail("malformed reply line: \"%.*s\"", (int)n, l);
        i += n;
    }
}

/* Moves the replies into the transcript. */
static void flush(smtp_session_t *s, buf_t *transcript)
{
    size_t len;
    check_out(s);
    const char *out = smtp_session_out(s, &len);
    buf_add(transcript, out, len);
    smtp_session_out_clear(s);
}

typedef struct {
    buf_t transcript;   /* replies and [action] markers, in order */
    buf_t message;      /* the message being received (kept chunks) */
    buf_t last_message; /* the last one stored */
    int messages, aborts;
} run_t;

/* Feeds input in chunks (0: all at once) and handles every action like
 * smtp_server does. */
static void converse(const smtp_config_t *cfg, const uint8_t *in, size_t n,
                     const uint8_t *schedule, run_t *r)
{
    smtp_session_t s;
    smtp_session_init(&s, cfg);
    size_t pos = 0, k = 0;
    bool end = false;
    while (pos < n && !end) {
        size_t chunk = schedule ? (size_t)schedule[k++ % 8] + 1 : n;
        if (chunk > n - pos)
            chunk = n - pos;
        size_t off = 0;
        int stalls = 0;
        while (off < chunk && !end) {
            smtp_action_t act;
            size_t used = smtp_session_feed(&s, (const char *)in + pos + off, chunk - off, &act);
            if (used > chunk - off)
                fail("feed consumed %zu of %zu bytes", used, chunk - off);
            if (act == SMTP_ACT_NONE && used != chunk - off)
                fail("feed stopped with no action after %zu of %zu bytes", used, chunk - off);
            stalls = used ? 0 : stalls + 1;
            if (stalls > 2)
                fail("feed makes no progress (action %s)", smtp_action_name(act));
            off += used;
            check_out(&s);
            switch (act) {
            case SMTP_ACT_NONE:
                break;
            case SMTP_ACT_FLUSH:
                flush(&s, &r->transcript);
                break;
            case SMTP_ACT_BODY:
            case SMTP_ACT_MESSAGE: {
                size_t bl;
                const char *b = smtp_session_body(&s, &bl);
                if (bl > SMTP_BODY_CHUNK + SMTP_LINE_MAX)
                    fail("body chunk of %zu bytes", bl);
                if (bl && !cfg->keep_body)
                    fail("a body was kept with keep_body off");
                buf_add(&r->message, b, bl);
                smtp_session_body_taken(&s);
                if (act == SMTP_ACT_MESSAGE) {
                    char mark[64];
                    flush(&s, &r->transcript);
                    snprintf(mark, sizeof mark, "[message %zu]\n", r->message.len);
                    buf_str(&r->transcript, mark);
                    buf_add(&r->transcript, r->message.p, r->message.len);
                    r->last_message.len = 0;
                    buf_add(&r->last_message, r->message.p, r->message.len);
                    r->message.len = 0;
                    r->messages++;
                    smtp_session_delivered(&s, r->messages % 5 ? "Q1" : NULL);
                }
                break;
            }
            case SMTP_ACT_ABORT:
                flush(&s, &r->transcript);
                buf_str(&r->transcript, "[abort]\n");
                r->message.len = 0;
                r->aborts++;
                break;
            case SMTP_ACT_BENCH:
                smtp_session_reply(&s, "250 0 000001|0 000002|0 000003|maxrss:1", 39);
                break;
            case SMTP_ACT_BENCH_JSON:
                smtp_session_reply(&s, "250 {\"wall_us\":1}", 17);
                break;
            case SMTP_ACT_CLOSE:
            case SMTP_ACT_SHUTDOWN:
                flush(&s, &r->transcript);
                buf_str(&r->transcript, act == SMTP_ACT_CLOSE ? "[close]\n" : "[shutdown]\n");
                end = true;
                break;
            }
        }
        pos += chunk;
    }
    flush(&s, &r->transcript);
    smtp_session_free(&s);
}

static void run_free(run_t *r)
{
    free(r->transcript.p);
    free(r->message.p);
    free(r->last_message.p);
}

/* Mode 1: the conversation around a body, and what the engine must do. */
static const char PROLOGUE[] = "EHLO fuzz.example\r\nMAIL FROM:<a@b.example>\r\n"
                               "RCPT TO:<c@d.example>\r\nDATA\r\n";
static const char EPILOGUE[] = ".\r\nQUIT\r\n";

enum expect { EXPECT_STORED, EXPECT_TOO_LONG, EXPECT_TOO_BIG };

static enum expect stuff_body(const uint8_t *body, size_t n, int64_t max_bytes, buf_t *wire)
{
    enum expect e = EXPECT_STORED;
    int64_t bytes = 0;
    buf_add(wire, PROLOGUE, sizeof PROLOGUE - 1);
    size_t i = 0;
    while (i < n) {
        const uint8_t *nl = memchr(body + i, '\n', n - i);
        size_t ll = (size_t)(nl + 1 - (body + i)); /* the body ends in '\n' */
        bool stuffed = body[i] == '.';
        if (stuffed)
            buf_add(wire, ".", 1);
        buf_add(wire, body + i, ll);
        if (e == EXPECT_STORED) {
            if (ll + stuffed > SMTP_LINE_MAX)
                e = EXPECT_TOO_LONG;
            else if ((bytes += (int64_t)ll) > max_bytes)
                e = EXPECT_TOO_BIG;
        }
        i += ll;
    }
    buf_add(wire, EPILOGUE, sizeof EPILOGUE - 1);
    return e;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < HEADER)
        return 0;
    smtp_config_t cfg = {
        .hostname = "fuzz.example",
        .keep_body = data[0] & 1,
        .peer_is_loopback = data[0] & 2,
        .max_message_bytes = (int64_t)(data[0] >> 3) * 97,
    };
    bool mode1 = data[0] & 4;
    const uint8_t *schedule = data + 1;
    const uint8_t *payload = data + HEADER;
    size_t plen = size - HEADER;

    buf_t wire = {0}, body = {0};
    enum expect expect = EXPECT_STORED;
    if (mode1) {
        buf_add(&body, payload, plen);
        if (plen && payload[plen - 1] != '\n')
            buf_add(&body, "\r\n", 2);
        int64_t max = cfg.max_message_bytes > 0 ? cfg.max_message_bytes : SMTP_DEFAULT_MAX_MESSAGE;
        expect = stuff_body((const uint8_t *)body.p, body.len, max, &wire);
    } else {
        buf_add(&wire, payload, plen);
    }

    run_t whole = {0}, chunked = {0};
    converse(&cfg, (const uint8_t *)wire.p, wire.len, NULL, &whole);
    converse(&cfg, (const uint8_t *)wire.p, wire.len, schedule, &chunked);
    if (whole.transcript.len != chunked.transcript.len ||
        memcmp(whole.transcript.p, chunked.transcript.p, whole.transcript.len) != 0)
        fail("the transcript depends on the chunking (%zu vs %zu bytes)\n--- whole:\n%.*s\n"
             "--- chunked:\n%.*s", whole.transcript.len, chunked.transcript.len,
             (int)whole.transcript.len, whole.transcript.p, (int)chunked.transcript.len,
             chunked.transcript.p);

    if (mode1) {
        /* The transcript holds message bodies, NULs included: memmem. */
        buf_add(&whole.transcript, "", 1); /* NUL-terminated for the messages */
        const char *t = whole.transcript.p;
        size_t tl = whole.transcript.len;
#define HAS(lit) (memmem(t, tl, lit, sizeof lit - 1) != NULL)
        switch (expect) {
        case EXPECT_STORED:
            if (whole.messages != 1 || whole.aborts != 0)
                fail("mode 1: want one stored message, got %d stored, %d aborted\n%s",
                     whole.messages, whole.aborts, t);
            if (cfg.keep_body &&
                (whole.last_message.len != body.len ||
                 (body.len && memcmp(whole.last_message.p, body.p, body.len) != 0)))
                fail("mode 1: stored body (%zu bytes) differs from the one sent (%zu bytes)",
                     whole.last_message.len, body.len);
            break;
        case EXPECT_TOO_LONG:
            if (whole.messages != 0 || whole.aborts != 1 ||
                !HAS("500 5.5.2 Line too long in message text"))
                fail("mode 1: want the message refused with 500 (line too long)\n%s", t);
            break;
        case EXPECT_TOO_BIG:
            if (whole.messages != 0 || whole.aborts != 1 || !HAS("552 5.3.4"))
                fail("mode 1: want the message refused with 552 (too big)\n%s", t);
            break;
        }
        if (!HAS("[close]\n"))
            fail("mode 1: QUIT after the message did not close\n%s", t);
    }
    run_free(&whole);
    run_free(&chunked);
    free(wire.p);
    free(body.p);
    return 0;
}
