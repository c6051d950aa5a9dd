/*
 * smtp_session.h - the SMTP server's protocol engine, without sockets.
 *
 * One smtp_session_t is one SMTP conversation: the command state machine
 * (HELO/EHLO, MAIL, RCPT, DATA, RSET, NOOP, VRFY, QUIT and the BENCH and
 * SHUTDOWN extensions of smtp_server), the DATA reader (dot-unstuffing, the
 * "." terminator, the message size limit) and a line framer. Input goes in
 * as bytes or as whole lines; replies come out in a buffer owned by the
 * session; anything the engine cannot do itself (store a message, measure
 * rusage, close the socket, stop the server) is returned as an action for
 * the caller. There is no I/O and no global state here, so unit tests and
 * fuzzers drive it directly.
 *
 * Every buffer has a fixed bound:
 *  - a line, CRLF included, is at most SMTP_LINE_MAX bytes (RFC 5321
 *    4.5.3.1.6 for text lines; we apply the same limit to command lines).
 *    A longer command line gets "500 5.5.2 Line too long"; a longer line of
 *    message text makes the message fail with the same reply after its
 *    terminating "." (the rest of the DATA is drained, never parsed as
 *    commands). The framer keeps at most SMTP_LINE_MAX bytes of a partial
 *    line and discards the rest of an over-long one without storing it.
 *  - replies wait in `out` (SMTP_OUT_CAP bytes). smtp_session_feed stops
 *    with SMTP_ACT_FLUSH before a reply could overflow it, so a client that
 *    pipelines without reading cannot make the server buffer more.
 *  - a kept message body is handed over in chunks of at most
 *    SMTP_BODY_CHUNK bytes (SMTP_ACT_BODY), so a 10 MiB message never sits
 *    in memory; the message as a whole is limited by max_message_bytes
 *    (552 after the terminating ".").
 *  - at most SMTP_MAX_RCPT recipients per message (452 beyond).
 *
 * Lines may end in CRLF or in a bare LF (both are accepted; a message body
 * is kept byte for byte as received, after unstuffing).
 *
 * Reply codes (RFC 5321 and RFC 3463 enhanced status codes):
 *   220 greeting            250 HELO/EHLO, MAIL, RCPT, RSET, NOOP, message
 *   354 DATA                221 QUIT, SHUTDOWN accepted
 *   252 VRFY                502 EXPN, HELP, TURN, ETRN (not implemented)
 *   500 unknown command, line too long     501 bad syntax
 *   503 bad sequence (MAIL before HELO/EHLO, nested MAIL, RCPT before MAIL,
 *       DATA before MAIL or RCPT)
 *   452 too many recipients                552 message too big
 *   555 unknown MAIL/RCPT parameter        550 SHUTDOWN from a non-loopback peer
 *   451 storage failed (see smtp_session_delivered)
 */
#ifndef SMTP_SESSION_H
#define SMTP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_LINE_MAX   1000          /* bytes per line, CRLF included */
#define SMTP_PATH_MAX   256           /* bytes of a <path>, brackets excluded (RFC 5321 4.5.3.1.3) */
#define SMTP_MAX_RCPT   100           /* recipients per message */
#define SMTP_OUT_CAP    4096          /* bytes of replies buffered before a flush */
#define SMTP_REPLY_MAX  1024          /* longest single reply, caller's BENCH reply included */
#define SMTP_BODY_CHUNK (64 * 1024)   /* body bytes handed over per SMTP_ACT_BODY */
#define SMTP_DEFAULT_MAX_MESSAGE (10 * 1024 * 1024)

typedef enum smtp_action {
    SMTP_ACT_NONE = 0,   /* nothing to do; feed more input */
    SMTP_ACT_FLUSH,      /* send smtp_session_out() and clear it, then feed the rest */
    SMTP_ACT_BODY,       /* a chunk of the body is ready: take it (smtp_session_body) */
    SMTP_ACT_MESSAGE,    /* the message is complete: take the last chunk, store it,
                          * then call smtp_session_delivered (it writes the reply) */
    SMTP_ACT_ABORT,      /* the message failed (the reply is written): discard any
                          * chunks taken so far */
    SMTP_ACT_BENCH,      /* append "250 <rusage line>" with smtp_session_reply */
    SMTP_ACT_BENCH_JSON, /* append "250 <rusage json>" with smtp_session_reply */
    SMTP_ACT_CLOSE,      /* QUIT: send the replies, then close the connection */
    SMTP_ACT_SHUTDOWN,   /* SHUTDOWN accepted: send the replies, close, stop the server */
} smtp_action_t;

typedef enum smtp_state {
    SMTP_ST_COMMAND = 0, /* reading commands */
    SMTP_ST_DATA,        /* between the 354 and the terminating "." */
    SMTP_ST_CLOSED,      /* after QUIT/SHUTDOWN: input is ignored */
} smtp_state_t;

typedef struct smtp_config {
    const char *hostname;      /* in the greeting and the EHLO reply (NULL: "localhost") */
    int64_t max_message_bytes; /* unstuffed body bytes, CRLFs included; <= 0: the default */
    bool keep_body;            /* hand the body over (SMTP_ACT_BODY/MESSAGE), else count only */
    bool peer_is_loopback;     /* SHUTDOWN is accepted only then */
} smtp_config_t;

typedef struct smtp_session {
    smtp_config_t cfg;
    smtp_state_t state;
    bool greeted;              /* HELO or EHLO seen */
    bool has_mail;             /* MAIL accepted, transaction open */
    int32_t rcpts;             /* recipients accepted in this transaction */

    /* DATA */
    int64_t data_bytes;        /* unstuffed bytes of the current message */
    bool data_too_big;         /* passed max_message_bytes: 552 at the end */
    bool data_line_too_long;   /* a text line passed SMTP_LINE_MAX: 500 at the end */
    bool data_nomem;           /* the body buffer could not grow: 452 at the end */
    char *body;                /* kept body not yet taken: body[0, body_len) */
    int64_t body_len, body_cap;

    /* Framer: a partial line carried between smtp_session_feed calls. */
    bool skipping;             /* discarding the rest of an over-long line */
    int32_t line_len;
    char line[SMTP_LINE_MAX];

    /* Replies not yet sent. */
    int32_t out_len;
    char out[SMTP_OUT_CAP];

    /* Counters for the caller's statistics. */
    int64_t messages;          /* messages completed (SMTP_ACT_MESSAGE) */
    int64_t commands;          /* command lines processed */
    int64_t errors;            /* 4xx/5xx replies written */
} smtp_session_t;

/* Sets up a session and writes the 220 greeting into its reply buffer. */
void smtp_session_init(smtp_session_t *s, const smtp_config_t *cfg);
/* Frees what the session allocated (the body buffer); s itself is the
 * caller's. */
void smtp_session_free(smtp_session_t *s);

/* Processes one complete line, terminator included (CRLF or LF; a command
 * line may also come without one). len > SMTP_LINE_MAX is handled as
 * smtp_session_line_too_long. Replies are appended to the reply buffer,
 * which must have SMTP_REPLY_MAX bytes free (smtp_session_feed makes sure).
 * Returns what the caller must do next. */
smtp_action_t smtp_session_line(smtp_session_t *s, const char *line, size_t len);
/* Reports that a line longer than SMTP_LINE_MAX was received and discarded
 * (call it once, after its end). */
smtp_action_t smtp_session_line_too_long(smtp_session_t *s);

/* Splits n bytes of input into lines and processes them in order. Stops
 * after the first line that yields an action (or before a reply could
 * overflow the reply buffer: SMTP_ACT_FLUSH); *act receives it, or
 * SMTP_ACT_NONE when all input was used. Returns the bytes consumed: call
 * again with the rest after handling the action. A partial line at the end
 * is kept for the next call. */
size_t smtp_session_feed(smtp_session_t *s, const char *data, size_t n, smtp_action_t *act);

/* Replies waiting to be sent, and forgetting them once sent. */
const char *smtp_session_out(const smtp_session_t *s, size_t *len);
void smtp_session_out_clear(smtp_session_t *s);
/* Appends one reply line; CRLF is added. At most SMTP_REPLY_MAX - 2 bytes
 * are used (longer text is cut). */
void smtp_session_reply(smtp_session_t *s, const char *text, size_t len);

/* The kept body bytes not yet taken (after SMTP_ACT_BODY / MESSAGE), and
 * marking them taken. */
const char *smtp_session_body(const smtp_session_t *s, size_t *len);
void smtp_session_body_taken(smtp_session_t *s);

/* Ends the transaction after SMTP_ACT_MESSAGE: queue_id non-NULL means the
 * message was stored ("250 2.0.0 Ok: queued as <queue_id>"), NULL means it
 * could not be ("451 4.3.0 ..."). */
void smtp_session_delivered(smtp_session_t *s, const char *queue_id);

/* Name of an action, for messages and tests. */
const char *smtp_action_name(smtp_action_t a);

#endif
