/*
 * The admin web page (SPEC §9): its static files, compiled into the binary
 * from authd/http/web/ by web_embed.cmake; api/api_web.c serves them.
 */
#ifndef AUTHD_WEB_H
#define AUTHD_WEB_H

#include <stddef.h>

struct web_file {
	const char *name; /* as in /web/<name> */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
	const char *etag; /* quoted, from the content's SHA-256 */
};

/* Generated into web_files.c. */
extern const struct web_file web_files[];
extern const size_t web_nfiles;

/* The file called `name`, or NULL. */
const struct web_file *web_find(const char *name);

#endif
