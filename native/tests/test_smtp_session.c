/*
 * test_smtp_session.c - the SMTP session engine (demos/lib/smtp_session.c)
 * without sockets: every reply code path, dot-unstuffing, the size limit,
 * line limits, pipelined input, the reply-buffer bound, and the same
 * replies whatever the chunking of the input.
 *
 * A fake server (run()) feeds input through smtp_session_feed and does what
 * the actions ask, like smtp_server does, collecting every reply into one
 * transcript and every stored message body, so each check compares text.
 *
 * Prints one "ok:" line per group; exits 1 if any check failed.
 */
#include "../demos/lib/smtp_body.h"
#include "../demos/lib/smtp_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* ---- a growable byte string --------------------------------------------- */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_add(buf_t *b, const char *p, size_t n)
{
    if (n == 0 && b->p)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p)
            abort();
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_clear(buf_t *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

static void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- the fake server ---------------------------------------------------- */

typedef struct {
    smtp_session_t s;
    buf_t replies;       /* everything the session answered, in order */
    buf_t body;          /* the message being received (chunks taken) */
    buf_t stored;        /* the last message stored */
    int messages, aborts, flushes, bodies, closes, shutdowns, benches, bench_jsons;
    size_t max_out;      /* largest reply buffer seen before a flush */
    size_t max_chunk;    /* largest body chunk handed over */
} fake_t;

static void fake_init(fake_t *f, int64_t max_message, bool keep_body, bool loopback)
{
    memset(f, 0, sizeof *f);
    smtp_config_t cfg = {.hostname = "mx.test",
                         .max_message_bytes = max_message,
                         .keep_body = keep_body,
                         .peer_is_loopback = loopback};
    smtp_session_init(&f->s, &cfg);
}

static void fake_free(fake_t *f)
{
    smtp_session_free(&f->s);
    buf_free(&f->replies);
    buf_free(&f->body);
    buf_free(&f->stored);
}

static void fake_flush(fake_t *f)
{
    size_t n;
    const char *p = smtp_session_out(&f->s, &n);
    if (n > f->max_out)
        f->max_out = n;
    buf_add(&f->replies, p, n);
    smtp_session_out_clear(&f->s);
}

static void take_body(fake_t *f)
{
    size_t n;
    const char *p = smtp_session_body(&f->s, &n);
    if (n > f->max_chunk)
        f->max_chunk = n;
    buf_add(&f->body, p, n);
    smtp_session_body_taken(&f->s);
}

static void fake_act(fake_t *f, smtp_action_t act)
{
    switch (act) {
    case SMTP_ACT_NONE:
        break;
    case SMTP_ACT_FLUSH:
        f->flushes++;
        fake_flush(f);
        break;
    case SMTP_ACT_BODY:
        f->bodies++;
        take_body(f);
        break;
    case SMTP_ACT_MESSAGE:
        f->messages++;
        take_body(f);
        buf_clear(&f->stored);
        buf_add(&f->stored, f->body.p ? f->body.p : "", f->body.len);
        buf_clear(&f->body);
        smtp_session_delivered(&f->s, "Q1");
        break;
    case SMTP_ACT_ABORT:
        f->aborts++;
        buf_clear(&f->body);
        break;
    case SMTP_ACT_BENCH:
        f->benches++;
        smtp_session_reply(&f->s, "250 BENCH-LINE", 14);
        break;
    case SMTP_ACT_BENCH_JSON:
        f->bench_jsons++;
        smtp_session_reply(&f->s, "250 {}", 6);
        break;
    case SMTP_ACT_CLOSE:
        f->closes++;
        break;
    case SMTP_ACT_SHUTDOWN:
        f->shutdowns++;
        break;
    }
}

/* Feeds n bytes in chunks of `chunk` bytes (0: all at once) and flushes the
 * replies after each chunk, as smtp_server does after each read. */
static void run_n(fake_t *f, const char *in, size_t n, size_t chunk)
{
    size_t at = 0;
    while (at < n) {
        size_t len = chunk && n - at > chunk ? chunk : n - at;
        size_t off = 0;
        while (off < len) {
            smtp_action_t act;
            size_t used = smtp_session_feed(&f->s, in + at + off, len - off, &act);
            off += used;
            fake_act(f, act);
            if (used == 0 && act == SMTP_ACT_NONE) {
                CHECK(0, "feed made no progress");
                return;
            }
        }
        at += len;
        fake_flush(f);
    }
    fake_flush(f);
}

static void run(fake_t *f, const char *in)
{
    run_n(f, in, strlen(in), 0);
}

/* The transcript of a fresh session (greeting stripped) fed `in`. */
static char *transcript(const char *in, size_t n, size_t chunk, bool keep_body)
{
    fake_t f;
    fake_init(&f, 0, keep_body, true);
    smtp_session_out_clear(&f.s); /* drop the greeting */
    run_n(&f, in, n, chunk);
    char *t = strdup(f.replies.p ? f.replies.p : "");
    fake_free(&f);
    return t;
}

/* Checks that a session in the state after `setup` answers `in` with
 * exactly `want`. */
static void expect(const char *setup, const char *in, const char *want, int line)
{
    fake_t f;
    fake_init(&f, 0, true, true);
    run(&f, setup);
    buf_clear(&f.replies);
    run(&f, in);
    const char *got = f.replies.p ? f.replies.p : "";
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "FAIL line %d: after %s| %s| want: %s| got: %s\n", line, setup, in,
                want, got);
        check_failures++;
    }
    fake_free(&f);
}

#define EXPECT(setup, in, want) expect((setup), (in), (want), __LINE__)

#define HELLO "EHLO client.test\r\n"
#define MAIL  HELLO "MAIL FROM:<a@b.test>\r\n"
#define RCPT  MAIL "RCPT TO:<c@d.test>\r\n"

/* ---- groups ------------------------------------------------------------- */

static void test_greeting_and_hello(void)
{
    fake_t f;
    fake_init(&f, 0, false, true);
    size_t n;
    const char *p = smtp_session_out(&f.s, &n);
    CHECK(n > 6 && memcmp(p, "220 mx.test ESMTP", 17) == 0 && memcmp(p + n - 2, "\r\n", 2) == 0,
          "greeting %.*s", (int)n, p);
    fake_free(&f);

    EXPECT("", "HELO client.test\r\n", "250 mx.test\r\n");
    EXPECT("", "EHLO client.test\r\n",
           "250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n"
           "250 ENHANCEDSTATUSCODES\r\n");
    EXPECT("", "ehlo [127.0.0.1]\n", /* lower case, bare LF, address literal */
           "250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n"
           "250 ENHANCEDSTATUSCODES\r\n");
    EXPECT("", "HELO\r\n", "501 5.5.4 Syntax: HELO/EHLO domain\r\n");
    EXPECT("", "EHLO   \r\n", "501 5.5.4 Syntax: HELO/EHLO domain\r\n");
    EXPECT("", "EHLO a\001b\r\n", "501 5.5.4 Syntax: HELO/EHLO domain\r\n");
    /* -m changes the advertised SIZE. */
    fake_init(&f, 12345, false, true);
    buf_clear(&f.replies);
    smtp_session_out_clear(&f.s);
    run(&f, "EHLO x\r\n");
    CHECK(strstr(f.replies.p, "250-SIZE 12345\r\n") != NULL, "%s", f.replies.p);
    fake_free(&f);
    OK("greeting 220, HELO/EHLO 250 (PIPELINING, 8BITMIME, SIZE), 501 without a domain\n");
}

static void test_sequence_errors(void)
{
    EXPECT("", "MAIL FROM:<a@b>\r\n", "503 5.5.1 Send HELO/EHLO first\r\n");
    EXPECT(HELLO, "RCPT TO:<c@d>\r\n", "503 5.5.1 MAIL first\r\n");
    EXPECT("", "RCPT TO:<c@d>\r\n", "503 5.5.1 MAIL first\r\n");
    EXPECT(HELLO, "DATA\r\n", "503 5.5.1 MAIL first\r\n");
    EXPECT(MAIL, "DATA\r\n", "503 5.5.1 RCPT first\r\n");
    EXPECT(MAIL, "MAIL FROM:<x@y>\r\n", "503 5.5.1 Sender already specified\r\n");
    /* RSET and HELO/EHLO end the transaction. */
    EXPECT(RCPT, "RSET\r\nRCPT TO:<e@f>\r\n", "250 2.0.0 Ok\r\n503 5.5.1 MAIL first\r\n");
    EXPECT(RCPT, "HELO x\r\nDATA\r\n", "250 mx.test\r\n503 5.5.1 MAIL first\r\n");
    EXPECT("", "RSET\r\n", "250 2.0.0 Ok\r\n");
    OK("503 for MAIL before HELO/EHLO, RCPT before MAIL, DATA before MAIL/RCPT, "
       "nested MAIL; RSET/HELO end the transaction\n");
}

static void test_mail_rcpt_syntax(void)
{
    const char *mail501 = "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]\r\n";
    const char *rcpt501 = "501 5.5.4 Syntax: RCPT TO:<address>\r\n";
    EXPECT(HELLO, "MAIL FROM:<a@b>\r\n", "250 2.1.0 Ok\r\n");
    EXPECT(HELLO, "mail from: <a@b>\r\n", "250 2.1.0 Ok\r\n");
    EXPECT(HELLO, "MAIL FROM:<>\r\n", "250 2.1.0 Ok\r\n"); /* null reverse-path */
    EXPECT(HELLO, "MAIL\r\n", mail501);
    EXPECT(HELLO, "MAIL FROM\r\n", mail501);
    EXPECT(HELLO, "MAIL FROM:a@b\r\n", mail501);
    EXPECT(HELLO, "MAIL TO:<a@b>\r\n", mail501);
    EXPECT(HELLO, "MAIL FROM:<a b>\r\n", mail501);
    EXPECT(HELLO, "MAIL FROM:<a@b\r\n", mail501);
    EXPECT(HELLO, "MAIL FROM:<a<b>\r\n", mail501);
    EXPECT(HELLO, "MAIL FROM:<a\x80@b>\r\n", mail501);
    EXPECT(HELLO, "MAIL FROM:<a@b>junk\r\n", "501 5.5.4 Bad parameter value\r\n");
    EXPECT(HELLO, "MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME\r\n", "250 2.1.0 Ok\r\n");
    EXPECT(HELLO, "MAIL FROM:<a@b> body=7bit\r\n", "250 2.1.0 Ok\r\n");
    EXPECT(HELLO, "MAIL FROM:<a@b> SIZE=abc\r\n", "501 5.5.4 Bad parameter value\r\n");
    EXPECT(HELLO, "MAIL FROM:<a@b> SIZE=\r\n", "501 5.5.4 Bad parameter value\r\n");
    EXPECT(HELLO, "MAIL FROM:<a@b> BODY=BINARYMIME\r\n", "501 5.5.4 Bad parameter value\r\n");
    EXPECT(HELLO, "MAIL FROM:<a@b> SIZE=10485761\r\n",
           "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    EXPECT(HELLO, "MAIL FROM:<a@b> SIZE=99999999999999999999999\r\n",
           "552 5.3.4 Message size exceeds fixed maximum message size\r\n");
    EXPECT(HELLO, "MAIL FROM:<a@b> SMTPUTF8\r\n", "555 5.5.4 Unsupported MAIL/RCPT parameter\r\n");
    EXPECT(MAIL, "RCPT TO:<c@d>\r\n", "250 2.1.5 Ok\r\n");
    EXPECT(MAIL, "RCPT TO:<Postmaster>\r\n", "250 2.1.5 Ok\r\n");
    EXPECT(MAIL, "RCPT TO:<>\r\n", rcpt501);
    EXPECT(MAIL, "RCPT FROM:<c@d>\r\n", rcpt501);
    EXPECT(MAIL, "RCPT TO:c@d\r\n", rcpt501);
    EXPECT(MAIL, "RCPT TO:<c@d> NOTIFY=NEVER\r\n", "555 5.5.4 Unsupported MAIL/RCPT parameter\r\n");
    /* A path of SMTP_PATH_MAX bytes is accepted, one more is not. */
    char line[600];
    memset(line, 'x', sizeof line);
    memcpy(line, "RCPT TO:<", 9);
    memcpy(line + 9 + SMTP_PATH_MAX, ">\r\n", 4);
    EXPECT(MAIL, line, "250 2.1.5 Ok\r\n");
    memset(line, 'x', sizeof line);
    memcpy(line, "RCPT TO:<", 9);
    memcpy(line + 9 + SMTP_PATH_MAX + 1, ">\r\n", 4);
    EXPECT(MAIL, line, rcpt501);
    OK("MAIL/RCPT paths and parameters: 250, 501, 552 (SIZE), 555\n");
}

static void test_recipient_cap(void)
{
    fake_t f;
    fake_init(&f, 0, false, true);
    run(&f, MAIL);
    buf_clear(&f.replies);
    for (int i = 0; i < SMTP_MAX_RCPT; i++)
        run(&f, "RCPT TO:<r@x>\r\n");
    size_t ok = strlen("250 2.1.5 Ok\r\n");
    CHECK(f.replies.len == ok * SMTP_MAX_RCPT, "%zu bytes of replies", f.replies.len);
    buf_clear(&f.replies);
    run(&f, "RCPT TO:<r@x>\r\nDATA\r\n");
    CHECK(strcmp(f.replies.p, "452 4.5.3 Too many recipients\r\n354 End data with "
                              "<CR><LF>.<CR><LF>\r\n") == 0,
          "%s", f.replies.p);
    fake_free(&f);
    OK("%d recipients accepted, the next gets 452, DATA still works\n", SMTP_MAX_RCPT);
}

static void test_other_commands(void)
{
    EXPECT("", "NOOP\r\n", "250 2.0.0 Ok\r\n");
    EXPECT("", "noop anything\r\n", "250 2.0.0 Ok\r\n");
    EXPECT("", "RSET x\r\n", "501 5.5.4 Syntax: no arguments allowed\r\n");
    EXPECT("", "VRFY user\r\n",
           "252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery\r\n");
    EXPECT("", "VRFY\r\n", "501 5.5.4 Syntax: VRFY address\r\n");
    EXPECT("", "EXPN list\r\n", "502 5.5.1 Command not implemented\r\n");
    EXPECT("", "HELP\r\n", "502 5.5.1 Command not implemented\r\n");
    EXPECT("", "FOO\r\n", "500 5.5.2 Command unrecognized\r\n");
    EXPECT("", "MAILX FROM:<a>\r\n", "500 5.5.2 Command unrecognized\r\n");
    EXPECT("", "\r\n", "500 5.5.2 Command unrecognized\r\n");
    EXPECT("", "\n", "500 5.5.2 Command unrecognized\r\n");
    EXPECT("", " NOOP\r\n", "500 5.5.2 Command unrecognized\r\n");
    EXPECT("", "QUIT now\r\n", "501 5.5.4 Syntax: no arguments allowed\r\n");
    EXPECT("", "DATA x\r\n", "501 5.5.4 Syntax: no arguments allowed\r\n");

    /* A NUL byte is just a byte that makes the verb unknown. */
    fake_t f;
    fake_init(&f, 0, false, true);
    smtp_session_out_clear(&f.s);
    run_n(&f, "NO\0OP\r\nMAIL FROM:<a\0b>\r\n", 24, 0);
    CHECK(strcmp(f.replies.p, "500 5.5.2 Command unrecognized\r\n503 5.5.1 Send HELO/EHLO "
                              "first\r\n") == 0,
          "%s", f.replies.p);
    fake_free(&f);

    /* QUIT: 221, the close action, and nothing after it is read. */
    fake_init(&f, 0, false, true);
    buf_clear(&f.replies);
    smtp_session_out_clear(&f.s);
    run(&f, "QUIT\r\nNOOP\r\nHELO x\r\n");
    CHECK(strcmp(f.replies.p, "221 2.0.0 Bye\r\n") == 0, "%s", f.replies.p);
    CHECK(f.closes == 1 && f.s.state == SMTP_ST_CLOSED, "closes %d", f.closes);
    fake_free(&f);

    /* BENCH / BENCH JSON are the caller's to answer; SHUTDOWN only from
     * loopback. */
    fake_init(&f, 0, false, true);
    run(&f, "BENCH\r\nbench json\r\nBENCH XML\r\n");
    CHECK(f.benches == 1 && f.bench_jsons == 1, "benches %d %d", f.benches, f.bench_jsons);
    CHECK(strstr(f.replies.p, "250 BENCH-LINE\r\n250 {}\r\n501 5.5.4 Syntax: BENCH [JSON]\r\n"),
          "%s", f.replies.p);
    buf_clear(&f.replies);
    run(&f, "SHUTDOWN now\r\nSHUTDOWN\r\nNOOP\r\n");
    CHECK(strcmp(f.replies.p,
                 "501 5.5.4 Syntax: no arguments allowed\r\n221 2.0.0 Shutting down\r\n") == 0,
          "%s", f.replies.p);
    CHECK(f.shutdowns == 1, "shutdowns %d", f.shutdowns);
    fake_free(&f);
    fake_init(&f, 0, false, false);
    buf_clear(&f.replies);
    smtp_session_out_clear(&f.s);
    run(&f, "SHUTDOWN\r\nNOOP\r\n");
    CHECK(strcmp(f.replies.p,
                 "550 5.7.1 SHUTDOWN is accepted from loopback only\r\n250 2.0.0 Ok\r\n") == 0,
          "%s", f.replies.p);
    CHECK(f.shutdowns == 0, "shutdowns %d", f.shutdowns);
    fake_free(&f);
    OK("NOOP, RSET, VRFY 252, EXPN/HELP 502, unknown/empty 500, QUIT 221 + close, "
       "BENCH [JSON], SHUTDOWN 221 from loopback / 550 from elsewhere\n");
}

static void test_line_limits(void)
{
    /* A command line of exactly SMTP_LINE_MAX bytes (CRLF included) is
     * read; one byte more gets 500 and the session goes on. */
    char line[SMTP_LINE_MAX + 8];
    memset(line, 'x', sizeof line);
    memcpy(line, "NOOP ", 5);
    memcpy(line + SMTP_LINE_MAX - 2, "\r\n", 3);
    EXPECT("", line, "250 2.0.0 Ok\r\n");
    memset(line, 'x', sizeof line);
    memcpy(line, "NOOP ", 5);
    memcpy(line + SMTP_LINE_MAX - 1, "\r\n", 3);
    char in[3 * SMTP_LINE_MAX];
    snprintf(in, sizeof in, "%sNOOP\r\n", line);
    EXPECT("", in, "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n");

    /* 100 KiB without a newline, then a newline and a command: one 500, and
     * the framer never held more than a line. */
    fake_t f;
    fake_init(&f, 0, false, true);
    smtp_session_out_clear(&f.s);
    char *big = malloc(100 * 1024 + 16);
    memset(big, 'A', 100 * 1024);
    memcpy(big + 100 * 1024, "\r\nNOOP\r\n", 9);
    run_n(&f, big, strlen(big), 4096);
    CHECK(strcmp(f.replies.p, "500 5.5.2 Line too long\r\n250 2.0.0 Ok\r\n") == 0, "%s",
          f.replies.p);
    fake_free(&f);

    /* An over-long text line fails the message after its "."; the tail of
     * that line is not taken for the terminator even if it is ".\r\n". */
    memset(big, 'B', 3000);
    memcpy(big + 3000, ".\r\nmore\r\n.\r\nNOOP\r\n", 19);
    fake_init(&f, 0, true, true);
    run(&f, RCPT "DATA\r\n");
    buf_clear(&f.replies);
    run_n(&f, big, strlen(big), 700);
    CHECK(strcmp(f.replies.p, "500 5.5.2 Line too long in message text\r\n250 2.0.0 Ok\r\n") == 0,
          "%s", f.replies.p);
    CHECK(f.aborts == 1 && f.messages == 0, "aborts %d messages %d", f.aborts, f.messages);
    fake_free(&f);
    free(big);
    OK("%d-byte lines accepted, longer: 500 (command) or failed message (text), "
       "bounded framing\n",
       SMTP_LINE_MAX);
}

static void test_data_and_unstuffing(void)
{
    fake_t f;
    fake_init(&f, 0, true, true);
    run(&f, RCPT);
    buf_clear(&f.replies);
    run(&f, "DATA\r\n"
            "Subject: t\r\n"
            "\r\n"
            "..leading dot\r\n"
            "...\r\n"
            ". space\r\n"
            "..\r\n"
            "bare lf\n"
            "not.a.terminator.\r\n"
            ".\r\n"
            "NOOP\r\n");
    const char *want_body = "Subject: t\r\n"
                            "\r\n"
                            ".leading dot\r\n"
                            "..\r\n"
                            " space\r\n"
                            ".\r\n"
                            "bare lf\n"
                            "not.a.terminator.\r\n";
    CHECK(f.messages == 1, "messages %d", f.messages);
    CHECK(f.stored.p && strcmp(f.stored.p, want_body) == 0, "body [%s]", f.stored.p);
    CHECK(strcmp(f.replies.p, "354 End data with <CR><LF>.<CR><LF>\r\n"
                              "250 2.0.0 Ok: queued as Q1\r\n250 2.0.0 Ok\r\n") == 0,
          "%s", f.replies.p);
    CHECK(f.s.data_bytes == (int64_t)strlen(want_body), "data_bytes %lld",
          (long long)f.s.data_bytes);
    /* The transaction is over: a new MAIL needs no new EHLO, RCPT needs MAIL. */
    buf_clear(&f.replies);
    run(&f, "RCPT TO:<x@y>\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\n");
    CHECK(strcmp(f.replies.p, "503 5.5.1 MAIL first\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
                              "354 End data with <CR><LF>.<CR><LF>\r\n"
                              "250 2.0.0 Ok: queued as Q1\r\n") == 0,
          "%s", f.replies.p);
    CHECK(f.messages == 2 && f.stored.len == 0, "empty message: %d, %zu", f.messages,
          f.stored.len);
    /* A failed store answers 451. */
    run(&f, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n");
    smtp_action_t act;
    buf_clear(&f.replies);
    smtp_session_out_clear(&f.s);
    CHECK(smtp_session_feed(&f.s, ".\r\n", 3, &act) == 3 && act == SMTP_ACT_MESSAGE, "%s",
          smtp_action_name(act));
    smtp_session_delivered(&f.s, NULL);
    fake_flush(&f);
    CHECK(strcmp(f.replies.p, "451 4.3.0 Could not store the message\r\n") == 0, "%s",
          f.replies.p);
    fake_free(&f);
    OK("DATA 354, dot-unstuffing, lone-dot terminator (CRLF or LF), 250 with the "
       "queue id, 451 when storing fails\n");
}

static void test_size_limit(void)
{
    fake_t f;
    fake_init(&f, 10, true, true);
    run(&f, RCPT "DATA\r\n");
    buf_clear(&f.replies);
    run(&f, "12345678\r\n.\r\n"); /* exactly 10 bytes */
    CHECK(f.messages == 1 && strcmp(f.stored.p, "12345678\r\n") == 0, "stored %s", f.stored.p);
    buf_clear(&f.replies);
    run(&f, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n123456789\r\nmore\r\nMAIL FROM:<no@t>\r\n"
            ".\r\nNOOP\r\n");
    CHECK(strcmp(f.replies.p, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with "
                              "<CR><LF>.<CR><LF>\r\n552 5.3.4 Message size exceeds fixed "
                              "maximum message size\r\n250 2.0.0 Ok\r\n") == 0,
          "%s", f.replies.p);
    CHECK(f.messages == 1 && f.aborts == 1, "messages %d aborts %d", f.messages, f.aborts);
    fake_free(&f);

    /* The engine never holds more than a chunk (plus a line) of body. */
    fake_init(&f, 0, true, true);
    run(&f, RCPT "DATA\r\n");
    buf_t in = {0}, want = {0};
    char line[80];
    for (int i = 0; i < 4000; i++) {
        int n = snprintf(line, sizeof line, "%s%06d abcdefghijklmnopqrstuvwxyz\r\n",
                         i % 7 == 0 ? ".." : "", i);
        buf_add(&in, line, (size_t)n);
        buf_add(&want, line + (i % 7 == 0), (size_t)n - (i % 7 == 0));
    }
    buf_add(&in, ".\r\n", 3);
    run_n(&f, in.p, in.len, 1500);
    CHECK(f.messages == 1 && f.stored.len == want.len && memcmp(f.stored.p, want.p, want.len) == 0,
          "big body: %zu vs %zu", f.stored.len, want.len);
    CHECK(f.bodies >= 1 && f.max_chunk <= SMTP_BODY_CHUNK + SMTP_LINE_MAX, "chunks %d max %zu",
          f.bodies, f.max_chunk);
    CHECK(f.s.body_cap <= SMTP_BODY_CHUNK + SMTP_LINE_MAX, "body cap %lld",
          (long long)f.s.body_cap);
    fake_free(&f);
    buf_free(&want);

    /* Without keep_body nothing is kept, the size is still counted. */
    fake_init(&f, 0, false, true);
    run(&f, RCPT "DATA\r\n");
    run_n(&f, in.p, in.len, 0);
    CHECK(f.messages == 1 && f.stored.len == 0 && f.s.body == NULL, "count-only");
    fake_free(&f);
    buf_free(&in);
    OK("552 after draining an oversized message (limit exact), body handed over in "
       "chunks <= %d bytes, count-only mode keeps nothing\n",
       SMTP_BODY_CHUNK + SMTP_LINE_MAX);
}

static const char PIPELINED[] =
    "EHLO client.test\r\n"
    "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<>\r\nRCPT TO:<e@f>\r\nDATA\r\n"
    "line 1\r\n..line 2\r\n.\r\n"
    "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n.\r\n"
    "RSET\r\nNOOP\r\nBOGUS\r\nVRFY x\r\nQUIT\r\nNOOP\r\n";

static void test_pipelining(void)
{
    const char *want =
        "250-mx.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n"
        "250 ENHANCEDSTATUSCODES\r\n"
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n501 5.5.4 Syntax: RCPT TO:<address>\r\n250 2.1.5 Ok\r\n"
        "354 End data with <CR><LF>.<CR><LF>\r\n250 2.0.0 Ok: queued as Q1\r\n"
        "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n"
        "250 2.0.0 Ok: queued as Q1\r\n"
        "250 2.0.0 Ok\r\n250 2.0.0 Ok\r\n500 5.5.2 Command unrecognized\r\n"
        "252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery\r\n"
        "221 2.0.0 Bye\r\n";
    size_t n = sizeof PIPELINED - 1;
    /* All at once, byte by byte, and in every chunk size up to 64. */
    for (size_t chunk = 0; chunk <= 64; chunk++) {
        char *t = transcript(PIPELINED, n, chunk, true);
        CHECK(strcmp(t, want) == 0, "chunk %zu: %s", chunk, t);
        free(t);
    }
    /* Hundreds of pipelined commands: the reply buffer stays bounded and
     * every reply comes out, in order. */
    fake_t f;
    fake_init(&f, 0, false, true);
    smtp_session_out_clear(&f.s);
    buf_t in = {0};
    for (int i = 0; i < 500; i++)
        buf_add(&in, "NOOP\r\n", 6);
    run_n(&f, in.p, in.len, 0);
    CHECK(f.replies.len == 500 * strlen("250 2.0.0 Ok\r\n"), "%zu", f.replies.len);
    CHECK(f.flushes >= 2 && f.max_out <= SMTP_OUT_CAP, "flushes %d max_out %zu", f.flushes,
          f.max_out);
    fake_free(&f);
    buf_free(&in);
    OK("pipelined commands answered in order whatever the chunking; 500 NOOPs in "
       "one read -> reply buffer <= %d bytes\n",
       SMTP_OUT_CAP);
}

static void test_bench_body(void)
{
    /* The client's generated message, sent through the engine, is stored
     * byte for byte as its plain form. */
    int64_t sizes[] = {2, 3, 4, 5, 78, 79, 80, 81, 157, 200, 1024, 4096, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        smtp_body_t b;
        CHECK(smtp_body_make(&b, sizes[i]) == 0, "make %lld", (long long)sizes[i]);
        CHECK(b.plain_len == sizes[i], "plain_len");
        fake_t f;
        fake_init(&f, 0, true, true);
        run(&f, RCPT "DATA\r\n");
        run_n(&f, b.wire, (size_t)b.wire_len, 0);
        CHECK(f.messages == 1 && f.stored.len == (size_t)b.plain_len &&
                  memcmp(f.stored.p, b.plain, (size_t)b.plain_len) == 0,
              "size %lld: stored %zu", (long long)sizes[i], f.stored.len);
        if (sizes[i] >= 1024)
            CHECK(memmem(b.wire, (size_t)b.wire_len, "\r\n..\r\n", 6) &&
                      memmem(b.wire, (size_t)b.wire_len, "\r\n...", 5),
                  "size %lld has no stuffed lines", (long long)sizes[i]);
        fake_free(&f);
        smtp_body_free(&b);
    }
    smtp_body_t b;
    CHECK(smtp_body_make(&b, 1) < 0, "1 byte accepted");
    OK("smtp_body wire form unstuffs to its plain form (2 B .. 100 KB)\n");
}

/* Deterministic pseudo-random conversations built from SMTP fragments,
 * junk bytes and over-long runs: the engine must answer them identically
 * whatever the chunking, keep its bounds, and never crash (run it under
 * `make asan` to check the memory side). */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static void test_random_conversations(void)
{
    static const char *frags[] = {
        "EHLO x\r\n", "HELO h\r\n", "MAIL FROM:<a@b>\r\n", "MAIL FROM:<> SIZE=12\r\n",
        "RCPT TO:<c@d>\r\n", "RCPT TO:<c@d>\r\n", "DATA\r\n", "DATA\r\n", ".\r\n", ".\n",
        "..x\r\n", "text line\r\n", "RSET\r\n", "NOOP\r\n", "QUIT\r\n", "BENCH\r\n",
        "BENCH JSON\r\n", "\r\n", "\n", "VRFY a\r\n", "SHUTDOWN\r\n", "mail from:<x\r\n",
    };
    const size_t nfrags = sizeof frags / sizeof frags[0];
    int runs = 0;
    for (int iter = 0; iter < 3000; iter++) {
        buf_t in = {0};
        int parts = 1 + (int)(rng() % 40);
        for (int k = 0; k < parts; k++) {
            uint32_t r = rng() % 100;
            if (r < 80) {
                const char *f = frags[rng() % nfrags];
                buf_add(&in, f, strlen(f));
            } else if (r < 95) {
                char junk[64];
                size_t n = rng() % sizeof junk;
                for (size_t j = 0; j < n; j++)
                    junk[j] = (char)(rng() & 0xff);
                buf_add(&in, junk, n);
            } else {
                size_t n = 900 + rng() % 300; /* around SMTP_LINE_MAX */
                char *run = malloc(n);
                memset(run, rng() & 1 ? '.' : 'y', n);
                buf_add(&in, run, n);
                free(run);
            }
        }
        if (!in.p)
            continue;
        char *whole = transcript(in.p, in.len, 0, iter & 1);
        size_t chunks[] = {1, 2, 7, 1 + rng() % 1500};
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            char *t = transcript(in.p, in.len, chunks[c], iter & 1);
            CHECK(strcmp(t, whole) == 0, "iteration %d chunk %zu differs", iter, chunks[c]);
            free(t);
        }
        free(whole);
        buf_free(&in);
        runs++;
    }
    OK("%d random conversations answered identically in 5 chunkings\n", runs);
}

int main(void)
{
    test_greeting_and_hello();
    test_sequence_errors();
    test_mail_rcpt_syntax();
    test_recipient_cap();
    test_other_commands();
    test_line_limits();
    test_data_and_unstuffing();
    test_size_limit();
    test_pipelining();
    test_bench_body();
    test_random_conversations();
    return check_finish("test_smtp_session");
}
