/*
 * smtp_body.c - the deterministic test message of smtp_client (see
 * smtp_body.h).
 */
#include "smtp_body.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define LINE_BYTES 78 /* CRLF included, the customary limit for mail text */

/* Length of the next line (CRLF included) when `left` bytes remain: never
 * leaves a single byte, which could not form a CRLF-terminated line. */
static int64_t next_line_len(int64_t left)
{
    if (left <= LINE_BYTES)
        return left;
    if (left == LINE_BYTES + 1)
        return LINE_BYTES - 1;
    return LINE_BYTES;
}

int smtp_body_make(smtp_body_t *b, int64_t bytes)
{
    memset(b, 0, sizeof *b);
    if (bytes < SMTP_BODY_MIN_BYTES) {
        errno = EINVAL;
        return -1;
    }
    /* Stuffing adds at most one byte per line; lines hold >= 2 bytes. */
    int64_t wire_cap = bytes + bytes / 2 + 4;
    b->plain = malloc((size_t)bytes);
    b->wire = malloc((size_t)wire_cap);
    if (!b->plain || !b->wire) {
        smtp_body_free(b);
        errno = ENOMEM;
        return -1;
    }
    int64_t at = 0, w = 0;
    for (int64_t i = 0; at < bytes; i++) {
        int64_t left = bytes - at;
        /* Line 3 of every 8 is a lone dot, line 1 starts with a dot and
         * line 5 with two. */
        bool lone_dot = i % 8 == 3 && left >= 3 && left - 3 != 1;
        int64_t ll = lone_dot ? 3 : next_line_len(left);
        int64_t text = ll - 2;
        char *line = b->plain + at;
        for (int64_t k = 0; k < text; k++)
            line[k] = (char)('a' + (i + k) % 26);
        if (lone_dot || (i % 8 == 1 && text >= 1))
            line[0] = '.';
        else if (i % 8 == 5 && text >= 2)
            line[0] = line[1] = '.';
        line[ll - 2] = '\r';
        line[ll - 1] = '\n';
        if (line[0] == '.')
            b->wire[w++] = '.';
        memcpy(b->wire + w, line, (size_t)ll);
        w += ll;
        at += ll;
    }
    memcpy(b->wire + w, ".\r\n", 3);
    w += 3;
    b->plain_len = bytes;
    b->wire_len = w;
    return 0;
}

void smtp_body_free(smtp_body_t *b)
{
    free(b->plain);
    free(b->wire);
    b->plain = b->wire = NULL;
    b->plain_len = b->wire_len = 0;
}
