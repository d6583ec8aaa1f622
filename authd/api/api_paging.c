/*
 * Paging of lists, eNZi style: ?start= names the first item to return and
 * ?limit= how many. The answer's nextPageStart names the first item of the
 * next page (empty at the end), and the same goes into X-Next-Page-Start and
 * a Link header for clients that follow headers, which keeps the request's
 * other parameters (its filters).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"

int page_parse(const char *start, const char *limit, struct page *p, struct refusal *why)
{
	memset(p, 0, sizeof(*p));
	p->limit = PAGE_DEFAULT;
	if (limit != NULL) {
		char *end;
		long v = strtol(limit, &end, 10);

		/* strtol would skip leading blanks and signs; a limit is digits only */
		if (*limit < '0' || *limit > '9' || *end != '\0' || v < 1 || v > PAGE_MAX)
			return refusal_set(why, "limit",
					   "limit: must be a whole number from 1 to 1000");
		p->limit = (int)v;
	}
	if (start != NULL) {
		/* a cursor is a stored name: anything longer cannot match one */
		if (strlen(start) >= sizeof(p->start))
			return refusal_set(why, "start", "start: is not a page cursor");
		snprintf(p->start, sizeof(p->start), "%s", start);
	}
	return 0;
}

int page_from_query(struct req *r, struct page *p, struct resp *out)
{
	struct refusal why;

	if (page_parse(req_query(r, "start"), req_query(r, "limit"), p, &why) != 0) {
		resp_refused(out, &why);
		return -1;
	}
	p->items = json_array();
	if (p->items == NULL) {
		resp_internal(out);
		return -1;
	}
	return 0;
}

int page_add(struct page *p, const char *name, json_t *item)
{
	if (p->seen++ == p->limit) {
		/* the one extra row the query fetched marks where the next page starts */
		snprintf(p->next, sizeof(p->next), "%s", name);
		json_decref(item);
		return 1;
	}
	json_array_append_new(p->items, item);
	return 0;
}

/* Percent-encodes s onto out (len bytes in all, kept NUL-terminated) for the Link header. */
static void url_escape(const char *s, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = strlen(out);

	for (; *s && o + 4 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

struct link_query {
	char *buf;
	size_t len;
};

/* Carries a list's other parameters (filter, since, ...) over to the next page's link. */
static void carry_param(const char *name, const char *value, void *ctx)
{
	struct link_query *q = ctx;

	if (strcmp(name, "start") == 0 || strcmp(name, "limit") == 0)
		return;
	url_escape(name, q->buf, q->len);
	strncat(q->buf, "=", q->len - strlen(q->buf) - 1);
	url_escape(value, q->buf, q->len);
	strncat(q->buf, "&", q->len - strlen(q->buf) - 1);
}

void page_finish(struct req *r, struct page *p, json_t *body, struct resp *out)
{
	char esc[NAME_LEN * 3] = "";
	struct link_query q;

	json_object_set_new(body, "nextPageStart", json_string(p->next));
	if (p->next[0] == '\0')
		return;
	url_escape(p->next, esc, sizeof(esc));
	resp_header(out, "X-Next-Page-Start", "%s", esc);
	/* a request target is at most 8 KiB, and escaping at most triples it */
	q.len = 3 * 8192 + 16;
	q.buf = calloc(1, q.len);
	if (q.buf != NULL)
		req_query_each(r, carry_param, &q);
	resp_header(out, "Link", "<%s?%sstart=%s&limit=%d>; rel=\"next\"", r->path,
		    q.buf ? q.buf : "", esc, p->limit);
	free(q.buf);
}
