/*
 * Serves the admin page's files from the table web_files.c holds. They need
 * no authentication (SPEC §3): the page signs in through the API itself.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http/web.h"

/*
 * The page loads nothing but its own files and talks only to this origin.
 * No inline script or style may run, so markup that slipped into a page
 * (a crafted full name, say) cannot execute.
 */
#define WEB_CSP                                                                                    \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

const struct web_file *web_find(const char *name)
{
	/* a verbatim lookup: no path is ever built from the name, so ".." means nothing */
	for (size_t i = 0; i < web_nfiles; i++)
		if (strcmp(web_files[i].name, name) == 0)
			return &web_files[i];
	return NULL;
}

/* True when an If-None-Match header names this entity tag, weakly or not, or is "*". */
static bool etag_matches(const char *header, const char *etag)
{
	if (header == NULL)
		return false;
	header += strspn(header, " \t");
	if (header[0] == '*')
		return true;
	return strstr(header, etag) != NULL;
}

static void serve(struct req *r, const struct web_file *f, struct resp *out)
{
	unsigned char *copy;

	/* revalidated on each load: after an upgrade the browser must not run the old script */
	if (etag_matches(req_header(r, "If-None-Match"), f->etag)) {
		resp_header(out, "Cache-Control", "no-cache");
		resp_header(out, "ETag", "%s", f->etag);
		out->status = 304;
		return;
	}
	/* the response zeroes and frees its bytes, and the table is read-only */
	copy = malloc(f->len > 0 ? f->len : 1);
	if (copy == NULL) {
		resp_internal(out);
		return;
	}
	memcpy(copy, f->data, f->len);
	out->bytes = copy;
	out->nbytes = f->len;
	out->type = f->type;
	out->status = 200;
	resp_header(out, "Cache-Control", "no-cache");
	resp_header(out, "ETag", "%s", f->etag);
	resp_header(out, "Content-Security-Policy", "%s", WEB_CSP);
	resp_header(out, "Referrer-Policy", "no-referrer");
}

void api_web_index(struct req *r, struct resp *out)
{
	const struct web_file *f = web_find("index.html");

	if (f == NULL) {
		resp_not_found(out, "file", "index.html");
		return;
	}
	serve(r, f, out);
}

void api_web_file(struct req *r, struct resp *out)
{
	const struct web_file *f = web_find(r->params[0]);

	if (f == NULL) {
		resp_not_found(out, "file", r->params[0]);
		return;
	}
	serve(r, f, out);
}
