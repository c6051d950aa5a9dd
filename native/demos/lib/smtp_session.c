/*
 * smtp_session.c - the SMTP state machine, DATA reader and line framer (see
 * smtp_session.h for the contract and the limits).
 *
 * Parsing follows RFC 5321 loosely but consistently: verbs are matched
 * without regard to case; one or more spaces may separate the verb from its
 * arguments and "FROM:"/"TO:" from the path; everything else (the <path>,
 * the ESMTP parameters) is checked strictly, and anything unexpected gets a
 * 5xx reply. Nothing here can be made to write outside its buffers by the
 * input: every copy is bounded by a length checked just before it.
 */
#include "smtp_session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- replies ------------------------------------------------------------ */

static const char R_OK[] = "250 2.0.0 Ok";
static const char R_MAIL_OK[] = "250 2.1.0 Ok";
static const char R_RCPT_OK[] = "250 2.1.5 Ok";
static const char R_DATA[] = "354 End data with <CR><LF>.<CR><LF>";
static const char R_BYE[] = "221 2.0.0 Bye";
static const char R_SHUTDOWN[] = "221 2.0.0 Shutting down";
static const char R_VRFY[] = "252 2.1.5 Cannot VRFY user, but will accept message and attempt delivery";
static const char R_UNKNOWN[] = "500 5.5.2 Command unrecognized";
static const char R_TOO_LONG[] = "500 5.5.2 Line too long";
static const char R_TEXT_TOO_LONG[] = "500 5.5.2 Line too long in message text";
static const char R_NOT_IMPL[] = "502 5.5.1 Command not implemented";
static const char R_HELO_FIRST[] = "503 5.5.1 Send HELO/EHLO first";
static const char R_NESTED_MAIL[] = "503 5.5.1 Sender already specified";
static const char R_MAIL_FIRST[] = "503 5.5.1 MAIL first";
static const char R_RCPT_FIRST[] = "503 5.5.1 RCPT first";
static const char R_TOO_MANY_RCPT[] = "452 4.5.3 Too many recipients";
static const char R_TOO_BIG[] = "552 5.3.4 Message size exceeds fixed maximum message size";
static const char R_NOMEM[] = "452 4.3.1 Insufficient system storage";
static const char R_NOT_STORED[] = "451 4.3.0 Could not store the message";
static const char R_BAD_PARAM[] = "555 5.5.4 Unsupported MAIL/RCPT parameter";
static const char R_REMOTE_SHUTDOWN[] = "550 5.7.1 SHUTDOWN is accepted from loopback only";
static const char R_SYNTAX_HELO[] = "501 5.5.4 Syntax: HELO/EHLO domain";
static const char R_SYNTAX_MAIL[] = "501 5.5.4 Syntax: MAIL FROM:<address> [parameters]";
static const char R_SYNTAX_RCPT[] = "501 5.5.4 Syntax: RCPT TO:<address>";
static const char R_SYNTAX_PARAM[] = "501 5.5.4 Bad parameter value";
static const char R_SYNTAX_NOARG[] = "501 5.5.4 Syntax: no arguments allowed";
static const char R_SYNTAX_VRFY[] = "501 5.5.4 Syntax: VRFY address";
static const char R_SYNTAX_BENCH[] = "501 5.5.4 Syntax: BENCH [JSON]";

#define REPLY(s, lit) smtp_session_reply((s), (lit), sizeof(lit) - 1)

void smtp_session_reply(smtp_session_t *s, const char *text, size_t len)
{
    size_t room = SMTP_OUT_CAP - (size_t)s->out_len;
    if (len > SMTP_REPLY_MAX - 2)
        len = SMTP_REPLY_MAX - 2;
    if (room < 2)
        return; /* cannot happen while callers keep SMTP_REPLY_MAX free */
    if (len > room - 2)
        len = room - 2;
    memcpy(s->out + s->out_len, text, len);
    memcpy(s->out + s->out_len + len, "\r\n", 2);
    s->out_len += (int32_t)(len + 2);
    if (len > 0 && (text[0] == '4' || text[0] == '5'))
        s->errors++;
}

const char *smtp_session_out(const smtp_session_t *s, size_t *len)
{
    *len = (size_t)s->out_len;
    return s->out;
}

void smtp_session_out_clear(smtp_session_t *s)
{
    s->out_len = 0;
}

/* ---- lifecycle ---------------------------------------------------------- */

void smtp_session_init(smtp_session_t *s, const smtp_config_t *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.hostname || !*s->cfg.hostname)
        s->cfg.hostname = "localhost";
    if (s->cfg.max_message_bytes <= 0)
        s->cfg.max_message_bytes = SMTP_DEFAULT_MAX_MESSAGE;
    char greeting[SMTP_REPLY_MAX];
    int n = snprintf(greeting, sizeof greeting, "220 %.200s ESMTP coro-bench smtp_server",
                     s->cfg.hostname);
    smtp_session_reply(s, greeting, (size_t)n);
}

void smtp_session_free(smtp_session_t *s)
{
    free(s->body);
    s->body = NULL;
    s->body_len = s->body_cap = 0;
}

/* Forgets the mail transaction (RSET, HELO/EHLO, end of DATA). */
static void reset_transaction(smtp_session_t *s)
{
    s->has_mail = false;
    s->rcpts = 0;
}

/* ---- body --------------------------------------------------------------- */

const char *smtp_session_body(const smtp_session_t *s, size_t *len)
{
    *len = (size_t)s->body_len;
    return s->body;
}

void smtp_session_body_taken(smtp_session_t *s)
{
    s->body_len = 0;
}

/* Appends unstuffed text to the kept body. 0, or -1 when memory ran out. */
static int body_append(smtp_session_t *s, const char *p, size_t n)
{
    int64_t need = s->body_len + (int64_t)n;
    if (need > SMTP_BODY_CHUNK + SMTP_LINE_MAX)
        return -1; /* a chunk was not handed over: never grow past the bound */
    if (need > s->body_cap) {
        int64_t cap = s->body_cap ? s->body_cap : 4096;
        while (cap < need)
            cap *= 2;
        if (cap > SMTP_BODY_CHUNK + SMTP_LINE_MAX)
            cap = SMTP_BODY_CHUNK + SMTP_LINE_MAX;
        char *b = realloc(s->body, (size_t)cap);
        if (!b)
            return -1;
        s->body = b;
        s->body_cap = cap;
    }
    memcpy(s->body + s->body_len, p, n);
    s->body_len += (int64_t)n;
    return 0;
}

/* True when the current message can no longer succeed. */
static bool data_failed(const smtp_session_t *s)
{
    return s->data_too_big || s->data_line_too_long || s->data_nomem;
}

static smtp_action_t end_of_data(smtp_session_t *s)
{
    s->state = SMTP_ST_COMMAND;
    reset_transaction(s);
    if (data_failed(s)) {
        s->body_len = 0;
        if (s->data_too_big)
            REPLY(s, R_TOO_BIG);
        else if (s->data_line_too_long)
            REPLY(s, R_TEXT_TOO_LONG);
        else
            REPLY(s, R_NOMEM);
        return SMTP_ACT_ABORT;
    }
    s->messages++;
    return SMTP_ACT_MESSAGE;
}

void smtp_session_delivered(smtp_session_t *s, const char *queue_id)
{
    s->body_len = 0;
    if (!queue_id) {
        REPLY(s, R_NOT_STORED);
        return;
    }
    char r[SMTP_REPLY_MAX];
    int n = snprintf(r, sizeof r, "250 2.0.0 Ok: queued as %.200s", queue_id);
    smtp_session_reply(s, r, (size_t)n);
}

static smtp_action_t data_line(smtp_session_t *s, const char *line, size_t len)
{
    /* The terminator is a line holding one dot; "..", like any line that
     * starts with a dot, loses that dot (RFC 5321 4.5.2). */
    if (line[0] == '.') {
        if (len == 1 || (len == 2 && line[1] == '\n') ||
            (len == 3 && line[1] == '\r' && line[2] == '\n'))
            return end_of_data(s);
        line++;
        len--;
    }
    if (data_failed(s))
        return SMTP_ACT_NONE;
    s->data_bytes += (int64_t)len;
    if (s->data_bytes > s->cfg.max_message_bytes) {
        s->data_too_big = true;
        s->body_len = 0;
        return SMTP_ACT_NONE;
    }
    if (!s->cfg.keep_body)
        return SMTP_ACT_NONE;
    if (body_append(s, line, len) < 0) {
        s->data_nomem = true;
        s->body_len = 0;
        return SMTP_ACT_NONE;
    }
    return s->body_len >= SMTP_BODY_CHUNK ? SMTP_ACT_BODY : SMTP_ACT_NONE;
}

/* ---- commands ----------------------------------------------------------- */

static char lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* True if p[0, n) starts with the lower-case ASCII word w, in any case. */
static bool starts_with_ci(const char *p, size_t n, const char *w)
{
    size_t wl = strlen(w);
    if (n < wl)
        return false;
    for (size_t i = 0; i < wl; i++)
        if (lower(p[i]) != w[i])
            return false;
    return true;
}

static bool equals_ci(const char *p, size_t n, const char *w)
{
    return n == strlen(w) && starts_with_ci(p, n, w);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alnum(char c)
{
    return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'z');
}

/* Printable ASCII without space (what a domain, path or parameter value
 * may hold here). Controls, NUL and 8-bit bytes are refused. */
static bool is_graph(char c)
{
    return c > ' ' && c < 127;
}

/* Parses "<path>" at p (n bytes). On success *used is the bytes taken
 * (brackets included). An empty path "<>" is allowed only if allow_null. */
static int parse_path(const char *p, size_t n, bool allow_null, size_t *used)
{
    if (n < 2 || p[0] != '<')
        return -1;
    size_t i = 1;
    while (i < n && p[i] != '>') {
        if (!is_graph(p[i]) || p[i] == '<')
            return -1;
        if (i > SMTP_PATH_MAX)
            return -1;
        i++;
    }
    if (i >= n)
        return -1; /* no closing bracket */
    if (i == 1 && !allow_null)
        return -1;
    *used = i + 1;
    return 0;
}

enum param_result { PARAM_OK, PARAM_SYNTAX, PARAM_UNKNOWN, PARAM_TOO_BIG };

/* Checks the ESMTP parameters after a path: " KEY[=VALUE]" repeated. MAIL
 * knows SIZE=<digits> (RFC 1870) and BODY=7BIT|8BITMIME (RFC 6152); RCPT
 * knows none. */
static enum param_result parse_params(const smtp_session_t *s, const char *p, size_t n,
                                      bool is_mail)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] != ' ')
            return PARAM_SYNTAX;
        while (i < n && p[i] == ' ')
            i++;
        if (i == n)
            break; /* trailing spaces */
        size_t key = i;
        if (!is_alnum(p[i]))
            return PARAM_SYNTAX;
        while (i < n && (is_alnum(p[i]) || p[i] == '-'))
            i++;
        size_t key_len = i - key;
        size_t val = i, val_len = 0;
        if (i < n && p[i] == '=') {
            val = ++i;
            while (i < n && is_graph(p[i]) && p[i] != '=')
                i++;
            val_len = i - val;
            if (val_len == 0)
                return PARAM_SYNTAX;
        }
        if (i < n && p[i] != ' ')
            return PARAM_SYNTAX;
        if (!is_mail)
            return PARAM_UNKNOWN;
        if (equals_ci(p + key, key_len, "size")) {
            if (val_len == 0 || val_len > 19)
                return val_len > 19 ? PARAM_TOO_BIG : PARAM_SYNTAX;
            int64_t size = 0;
            for (size_t k = 0; k < val_len; k++) {
                if (!is_digit(p[val + k]))
                    return PARAM_SYNTAX;
                size = size * 10 + (p[val + k] - '0'); /* < 10^19 fits */
            }
            if (size > s->cfg.max_message_bytes)
                return PARAM_TOO_BIG;
        } else if (equals_ci(p + key, key_len, "body")) {
            if (!equals_ci(p + val, val_len, "7bit") && !equals_ci(p + val, val_len, "8bitmime"))
                return PARAM_SYNTAX;
        } else {
            return PARAM_UNKNOWN;
        }
    }
    return PARAM_OK;
}

/* MAIL FROM:<path> [params] / RCPT TO:<path> [params]; arg is what follows
 * the verb. Writes the reply for a failure and returns false. */
static bool parse_mail_rcpt(smtp_session_t *s, const char *arg, size_t n, bool is_mail)
{
    const char *prefix = is_mail ? "from:" : "to:";
    const char *syntax = is_mail ? R_SYNTAX_MAIL : R_SYNTAX_RCPT;
    size_t pl = strlen(prefix);
    if (!starts_with_ci(arg, n, prefix)) {
        smtp_session_reply(s, syntax, strlen(syntax));
        return false;
    }
    size_t i = pl;
    while (i < n && arg[i] == ' ')
        i++;
    size_t used;
    if (parse_path(arg + i, n - i, is_mail, &used) < 0) {
        smtp_session_reply(s, syntax, strlen(syntax));
        return false;
    }
    i += used;
    switch (parse_params(s, arg + i, n - i, is_mail)) {
    case PARAM_OK:
        return true;
    case PARAM_SYNTAX:
        REPLY(s, R_SYNTAX_PARAM);
        return false;
    case PARAM_UNKNOWN:
        REPLY(s, R_BAD_PARAM);
        return false;
    case PARAM_TOO_BIG:
        REPLY(s, R_TOO_BIG);
        return false;
    }
    return false;
}

static void reply_ehlo(smtp_session_t *s)
{
    char r[SMTP_REPLY_MAX];
    int n = snprintf(r, sizeof r,
                     "250-%.200s\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE %lld\r\n"
                     "250 ENHANCEDSTATUSCODES",
                     s->cfg.hostname, (long long)s->cfg.max_message_bytes);
    smtp_session_reply(s, r, (size_t)n);
}

static smtp_action_t command_line(smtp_session_t *s, const char *line, size_t len)
{
    s->commands++;
    if (len > 0 && line[len - 1] == '\n')
        len--;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    size_t vl = 0;
    while (vl < len && line[vl] != ' ')
        vl++;
    const char *arg = line + vl;
    size_t al = len - vl;
    while (al > 0 && arg[0] == ' ') {
        arg++;
        al--;
    }
    while (al > 0 && (arg[al - 1] == ' ' || arg[al - 1] == '\t'))
        al--;
    bool has_arg = al > 0;

    if (equals_ci(line, vl, "helo") || equals_ci(line, vl, "ehlo")) {
        for (size_t i = 0; i < al; i++)
            if (!is_graph(arg[i]) && arg[i] != ' ')
                has_arg = false;
        if (!has_arg) {
            REPLY(s, R_SYNTAX_HELO);
            return SMTP_ACT_NONE;
        }
        reset_transaction(s);
        s->greeted = true;
        if (lower(line[0]) == 'e') {
            reply_ehlo(s);
        } else {
            char r[SMTP_REPLY_MAX];
            int n = snprintf(r, sizeof r, "250 %.200s", s->cfg.hostname);
            smtp_session_reply(s, r, (size_t)n);
        }
        return SMTP_ACT_NONE;
    }
    if (equals_ci(line, vl, "mail")) {
        if (!s->greeted)
            REPLY(s, R_HELO_FIRST);
        else if (s->has_mail)
            REPLY(s, R_NESTED_MAIL);
        else if (parse_mail_rcpt(s, arg, al, true)) {
            s->has_mail = true;
            s->rcpts = 0;
            REPLY(s, R_MAIL_OK);
        }
        return SMTP_ACT_NONE;
    }
    if (equals_ci(line, vl, "rcpt")) {
        if (!s->has_mail)
            REPLY(s, R_MAIL_FIRST);
        else if (parse_mail_rcpt(s, arg, al, false)) {
            if (s->rcpts >= SMTP_MAX_RCPT) {
                REPLY(s, R_TOO_MANY_RCPT);
            } else {
                s->rcpts++;
                REPLY(s, R_RCPT_OK);
            }
        }
        return SMTP_ACT_NONE;
    }
    if (equals_ci(line, vl, "data")) {
        if (has_arg)
            REPLY(s, R_SYNTAX_NOARG);
        else if (!s->has_mail)
            REPLY(s, R_MAIL_FIRST);
        else if (s->rcpts == 0)
            REPLY(s, R_RCPT_FIRST);
        else {
            s->state = SMTP_ST_DATA;
            s->data_bytes = 0;
            s->data_too_big = s->data_line_too_long = s->data_nomem = false;
            s->body_len = 0;
            REPLY(s, R_DATA);
        }
        return SMTP_ACT_NONE;
    }
    if (equals_ci(line, vl, "rset")) {
        if (has_arg) {
            REPLY(s, R_SYNTAX_NOARG);
        } else {
            reset_transaction(s);
            REPLY(s, R_OK);
        }
        return SMTP_ACT_NONE;
    }
    if (equals_ci(line, vl, "noop")) {
        REPLY(s, R_OK); /* NOOP may carry a string, which is ignored */
        return SMTP_ACT_NONE;
    }
    if (equals_ci(line, vl, "quit")) {
        if (has_arg) {
            REPLY(s, R_SYNTAX_NOARG);
            return SMTP_ACT_NONE;
        }
        REPLY(s, R_BYE);
        s->state = SMTP_ST_CLOSED;
        return SMTP_ACT_CLOSE;
    }
    if (equals_ci(line, vl, "vrfy")) {
        if (has_arg)
            REPLY(s, R_VRFY);
        else
            REPLY(s, R_SYNTAX_VRFY);
        return SMTP_ACT_NONE;
    }
    if (equals_ci(line, vl, "expn") || equals_ci(line, vl, "help") ||
        equals_ci(line, vl, "turn") || equals_ci(line, vl, "etrn")) {
        REPLY(s, R_NOT_IMPL);
        return SMTP_ACT_NONE;
    }
    if (equals_ci(line, vl, "bench")) {
        if (!has_arg)
            return SMTP_ACT_BENCH;
        if (equals_ci(arg, al, "json"))
            return SMTP_ACT_BENCH_JSON;
        REPLY(s, R_SYNTAX_BENCH);
        return SMTP_ACT_NONE;
    }
    if (equals_ci(line, vl, "shutdown")) {
        if (has_arg) {
            REPLY(s, R_SYNTAX_NOARG);
            return SMTP_ACT_NONE;
        }
        if (!s->cfg.peer_is_loopback) {
            REPLY(s, R_REMOTE_SHUTDOWN);
            return SMTP_ACT_NONE;
        }
        REPLY(s, R_SHUTDOWN);
        s->state = SMTP_ST_CLOSED;
        return SMTP_ACT_SHUTDOWN;
    }
    REPLY(s, R_UNKNOWN);
    return SMTP_ACT_NONE;
}

/* ---- lines and framing -------------------------------------------------- */

smtp_action_t smtp_session_line_too_long(smtp_session_t *s)
{
    switch (s->state) {
    case SMTP_ST_COMMAND:
        s->commands++;
        REPLY(s, R_TOO_LONG);
        break;
    case SMTP_ST_DATA:
        s->data_line_too_long = true;
        s->body_len = 0;
        break;
    case SMTP_ST_CLOSED:
        break;
    }
    return SMTP_ACT_NONE;
}

smtp_action_t smtp_session_line(smtp_session_t *s, const char *line, size_t len)
{
    if (len > SMTP_LINE_MAX)
        return smtp_session_line_too_long(s);
    switch (s->state) {
    case SMTP_ST_DATA:
        if (len == 0)
            return SMTP_ACT_NONE; /* not a line; an empty line is "\r\n" */
        return data_line(s, line, len);
    case SMTP_ST_COMMAND:
        return command_line(s, line, len);
    case SMTP_ST_CLOSED:
        break;
    }
    return SMTP_ACT_NONE;
}

size_t smtp_session_feed(smtp_session_t *s, const char *data, size_t n, smtp_action_t *act)
{
    size_t off = 0;
    *act = SMTP_ACT_NONE;
    while (off < n) {
        if (s->state == SMTP_ST_CLOSED)
            return n; /* nothing after QUIT/SHUTDOWN is read */
        if (s->out_len > SMTP_OUT_CAP - SMTP_REPLY_MAX) {
            *act = SMTP_ACT_FLUSH;
            return off;
        }
        const char *p = data + off;
        size_t left = n - off;
        const char *nl = memchr(p, '\n', left);
        if (!nl) {
            /* A partial line: keep it while it can still end within the
             * limit (at most SMTP_LINE_MAX - 1 bytes before its LF). */
            if (!s->skipping && (size_t)s->line_len + left < SMTP_LINE_MAX) {
                memcpy(s->line + s->line_len, p, left);
                s->line_len += (int32_t)left;
            } else {
                s->skipping = true;
                s->line_len = 0;
            }
            return n;
        }
        size_t ll = (size_t)(nl + 1 - p);
        smtp_action_t a;
        if (s->skipping) {
            s->skipping = false;
            a = smtp_session_line_too_long(s);
        } else if (s->line_len > 0) {
            if ((size_t)s->line_len + ll > SMTP_LINE_MAX) {
                a = smtp_session_line_too_long(s);
            } else {
                memcpy(s->line + s->line_len, p, ll);
                a = smtp_session_line(s, s->line, (size_t)s->line_len + ll);
            }
            s->line_len = 0;
        } else {
            a = smtp_session_line(s, p, ll);
        }
        off += ll;
        if (a != SMTP_ACT_NONE) {
            *act = a;
            return off;
        }
    }
    return off;
}

const char *smtp_action_name(smtp_action_t a)
{
    switch (a) {
    case SMTP_ACT_NONE:
        return "none";
    case SMTP_ACT_FLUSH:
        return "flush";
    case SMTP_ACT_BODY:
        return "body";
    case SMTP_ACT_MESSAGE:
        return "message";
    case SMTP_ACT_ABORT:
        return "abort";
    case SMTP_ACT_BENCH:
        return "bench";
    case SMTP_ACT_BENCH_JSON:
        return "bench_json";
    case SMTP_ACT_CLOSE:
        return "close";
    case SMTP_ACT_SHUTDOWN:
        return "shutdown";
    }
    return "?";
}
