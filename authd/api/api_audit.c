/*
 * GET /api/audit (SPEC §10), for admins: the audit log's records newest
 * first, from the log and its rotated files, filtered by time, account,
 * event and replica, and paged like the other lists with a record's seq as
 * the cursor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "audit.h"

/* A page stops short of its limit past this many bytes of records; its cursor goes on. */
#define AUDIT_PAGE_BYTES (8u << 20)
#define TYPE_MAX 100

struct audit_page {
	struct page page;
	size_t bytes;
};

static int add_record(json_t *rec, uint64_t seq, size_t len, void *ctx)
{
	struct audit_page *ap = ctx;
	char name[24];

	snprintf(name, sizeof(name), "%" PRIu64, seq);
	if (ap->page.seen > 0 && ap->page.seen < ap->page.limit &&
	    ap->bytes + len > AUDIT_PAGE_BYTES) {
		snprintf(ap->page.next, sizeof(ap->page.next), "%s", name);
		json_decref(rec);
		return 1;
	}
	ap->bytes += len;
	return page_add(&ap->page, name, rec);
}

/* A cursor is a record's seq: 1 to 20 digits, not 0. */
static int parse_cursor(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = strlen(s);

	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return v == 0 ? -1 : 0;
}

/* An event name (login.failure) or a prefix of them (account.): letters, digits, dots. */
static bool valid_type(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > TYPE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* since= or until=: absent or empty is no bound. */
static int parse_bound(const char *name, const char *value, int64_t *out, struct refusal *why)
{
	if (value == NULL || value[0] == '\0')
		return 0;
	if (parse_time(value, out) != 0)
		return refusal_set(
		    why, name, "%s: must be an RFC 3339 time such as 2026-11-23T15:05:00Z", name);
	return 0;
}

/* The filters of the query string; 0, or -1 with why naming the parameter. */
static int parse_filters(struct req *r, struct audit_query *q, struct refusal *why)
{
	const char *start = req_query(r, "start"), *account = req_query(r, "account");
	const char *type = req_query(r, "type"), *name = req_query(r, "replica");

	*q = (struct audit_query){.since = INT64_MIN, .until = INT64_MAX};
	if (start != NULL && start[0] != '\0' && parse_cursor(start, &q->start) != 0)
		return refusal_set(why, "start",
				   "start: must be a record's seq, as nextPageStart gives it");
	if (parse_bound("since", req_query(r, "since"), &q->since, why) != 0 ||
	    parse_bound("until", req_query(r, "until"), &q->until, why) != 0)
		return -1;
	if (q->until < q->since)
		return refusal_set(why, "until", "until: must not be before since");
	if (account != NULL && account[0] != '\0') {
		if (utf8_chars(account) > 100)
			return refusal_set(why, "account",
					   "account: must be at most 100 characters");
		q->account = account;
	}
	if (type != NULL && type[0] != '\0') {
		if (!valid_type(type))
			return refusal_set(why, "type",
					   "type: must be an event name such as login.failure, or "
					   "a prefix of them ending in a dot, such as account.");
		q->type = type;
	}
	if (name != NULL && name[0] != '\0') {
		if (utf8_chars(name) > REPLICA_NAME_MAX_CHARS)
			return refusal_set(why, "replica", "replica: must be at most %d characters",
					   REPLICA_NAME_MAX_CHARS);
		q->replica = name;
	}
	return 0;
}

void api_audit_list(struct req *r, struct resp *out)
{
	struct audit_files files = {0};
	struct audit_page ap = {0};
	struct audit_query q;
	struct refusal why;
	json_t *body;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	if (parse_filters(r, &q, &why) != 0) {
		resp_refused(out, &why);
		return;
	}
	if (page_from_query(r, &ap.page, out) != 0)
		return;
	/* the files as they are now: a rotation during the read changes none of them */
	if (audit_files_open(r->srv->audit, &files) != 0 ||
	    audit_read(&files, &q, add_record, &ap) != 0) {
		log_msg(LOG_ERROR, "audit: out of memory for a read of the log");
		audit_files_close(&files);
		json_decref(ap.page.items);
		resp_internal(out);
		return;
	}
	audit_files_close(&files);
	body = json_pack("{s:o}", "records", ap.page.items);
	if (body == NULL) {
		resp_internal(out);
		return;
	}
	page_finish(r, &ap.page, body, out);
	resp_json(out, 200, body);
}
