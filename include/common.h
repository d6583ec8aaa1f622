/*
 * libcommon: what every part of authd shares below everything else. The two
 * ways of saying why something did not happen, text from outside made fit
 * for JSON, and whole-file reads and writes. Knows nothing of HTTP, the
 * store, LDAP or certificates.
 */
#ifndef AUTHD_COMMON_H
#define AUTHD_COMMON_H

#include <stdbool.h>
#include <stddef.h>

/* ---- why something did not happen ---- */

/*
 * Why some input was refused: the field it names, as a path into the input
 * ("userSearchConfigs[1].filter"; "" for the input as a whole), and a
 * message for the person who sent it, which starts with the field.
 */
struct refusal {
	char field[256];
	char message[512]; /* as much as an API error's message shows */
};

/* Fills *r (the message cut between characters); returns -1, for `return refusal_set(...)`. */
int refusal_set(struct refusal *r, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * Names the field of a refusal made without one, by a check of a single
 * value: "must be at most 100 characters" becomes "name: must be at most
 * 100 characters". Returns -1.
 */
int refusal_in(struct refusal *r, const char *field);

/* Why an operation failed, in words for the log or the operator; never a secret. */
#define FAILURE_LEN 256
struct failure {
	char message[FAILURE_LEN];
};

/* Fills *f; returns -1, for `return failure_set(...)`. */
int failure_set(struct failure *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- text ---- */

/* Number of UTF-8 characters in s (s is valid UTF-8). */
size_t utf8_chars(const char *s);
/*
 * src as text JSON accepts, in dst (size bytes with the NUL): each invalid or
 * incomplete UTF-8 sequence becomes U+FFFD, and when src does not fit it is
 * cut before the first character that does not, never inside one. Returns dst.
 */
char *utf8_clean(char *dst, size_t size, const char *src);
/* Whether s is empty or only white space. */
bool is_blank(const char *s);

/* ---- files ---- */

/* A whole file, NUL-terminated, malloc'd, at most `max` bytes; NULL with *f filled. */
char *file_read(const char *path, size_t max, size_t *len, struct failure *f);
/* Writes through a temporary file, fsync and rename(), so readers never see half a file. */
int file_write(const char *path, const char *data, size_t len, int mode, struct failure *f);

#endif
