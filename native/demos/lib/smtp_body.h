/*
 * smtp_body.h - the test message that smtp_client sends, built the same way
 * by the client and by the tests that check what the server stored.
 *
 * The body is `bytes` bytes of CRLF-terminated lines of at most 78 bytes.
 * Some lines start with "." or "..", and some are a lone "." (which would
 * end the DATA if it were not stuffed), so every message exercises
 * dot-stuffing. Letters vary from line to line so that a line dropped or
 * repeated by the server changes the bytes.
 */
#ifndef SMTP_BODY_H
#define SMTP_BODY_H

#include <stdint.h>

#define SMTP_BODY_MIN_BYTES 2 /* one empty line, "\r\n" */

typedef struct smtp_body {
    char *plain;        /* the body as the server must store it */
    int64_t plain_len;  /* == bytes */
    char *wire;         /* dot-stuffed, followed by the ".\r\n" terminator */
    int64_t wire_len;
} smtp_body_t;

/* Builds the body of `bytes` (>= SMTP_BODY_MIN_BYTES) bytes. 0, or -1 with
 * errno (EINVAL for a size below the minimum, ENOMEM). */
int smtp_body_make(smtp_body_t *b, int64_t bytes);
void smtp_body_free(smtp_body_t *b);

#endif
