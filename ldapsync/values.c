/*
 * Reading attribute values the way directories give them: a multi-valued
 * attribute in ranges (Active Directory's answer for more than 1,500
 * values), and an entry's directory id as text whatever its syntax.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"

/* ---- ranged retrieval ---- */

/* What one description of an answer is to the attribute asked for. */
enum kind { OTHER, WHOLE, PART, BROKEN };

struct range {
	size_t low, high;
	bool open; /* high is "*": the last range */
};

/* A decimal number of digits only (no sign, no space), into *out; the rest is at *end. */
static bool number(const char *s, size_t *out, const char **end)
{
	unsigned long long v;
	char *e;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno != 0 || v > (unsigned long long)(SIZE_MAX / 2))
		return false;
	*out = (size_t)v;
	*end = e;
	return true;
}

/* "low-high" or "low-*" up to the end of the option (';' or the string's end). */
static bool parse_range(const char *opt, struct range *r)
{
	const char *p;

	if (!number(opt, &r->low, &p) || *p++ != '-')
		return false;
	r->open = *p == '*';
	if (r->open)
		p++;
	else if (!number(p, &r->high, &p) || r->high < r->low)
		return false;
	return *p == '\0' || *p == ';';
}

/*
 * The attribute type first (case-insensitive), then options separated by
 * ';': at most one range=, and any others (a language tag) leave the
 * values the attribute's.
 */
static enum kind classify(const char *attr, const char *name, struct range *r)
{
	size_t len = strlen(attr);
	bool ranged = false;

	if (strncasecmp(name, attr, len) != 0 || (name[len] != '\0' && name[len] != ';'))
		return OTHER;
	for (const char *opt = strchr(name + len, ';'); opt != NULL; opt = strchr(opt + 1, ';')) {
		if (strncasecmp(opt + 1, "range=", 6) != 0)
			continue;
		if (ranged || !parse_range(opt + 7, r))
			return BROKEN;
		ranged = true;
	}
	return ranged ? PART : WHOLE;
}

/* The unused part of got that starts at low, or n. */
static size_t part_at(const struct range *r, const bool *part, const bool *use, size_t n,
		      size_t low)
{
	for (size_t i = 0; i < n; i++)
		if (part[i] && !use[i] && r[i].low == low)
			return i;
	return n;
}

/* Joins the parts from `from` on, in order: each must start where the one before ended. */
static enum ls_range_step join_parts(const struct ls_answered *got, const struct range *r,
				     const bool *part, size_t nparts, size_t n, size_t from,
				     bool *use, size_t *next)
{
	size_t expected = from;

	for (size_t taken = 0; taken < nparts; taken++) {
		size_t i = part_at(r, part, use, n, expected);

		if (i == n)
			return LS_RANGE_BAD; /* a gap or an overlap */
		use[i] = true;
		if (r[i].open)
			return taken + 1 == nparts ? LS_RANGE_DONE : LS_RANGE_BAD;
		/* a range with no value in it would never end */
		if (got[i].nvalues == 0)
			return LS_RANGE_BAD;
		expected = r[i].high + 1;
	}
	*next = expected;
	return LS_RANGE_MORE;
}

enum ls_range_step ls_range_next(const char *attr, const struct ls_answered *got, size_t n,
				 size_t from, bool *use, size_t *next)
{
	struct range *r = calloc(n + 1, sizeof(*r));
	bool *part = calloc(n + 1, sizeof(*part));
	size_t whole = 0, nparts = 0;
	enum ls_range_step st = LS_RANGE_BAD;

	for (size_t i = 0; i < n; i++)
		use[i] = false;
	if (r == NULL || part == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		enum kind k = classify(attr, got[i].name, &r[i]);

		if (k == BROKEN)
			goto out;
		part[i] = k == PART;
		use[i] = k == WHOLE;
		whole += k == WHOLE;
		nparts += k == PART;
	}
	/* whole values answer only the first request, and never beside ranges */
	if (whole > 0)
		st = nparts == 0 && from == 0 ? LS_RANGE_DONE : LS_RANGE_BAD;
	else if (nparts == 0)
		st = from == 0 ? LS_RANGE_DONE : LS_RANGE_BAD; /* no value at all, or no more */
	else
		st = join_parts(got, r, part, nparts, n, from, use, next);
out:
	if (st == LS_RANGE_BAD)
		for (size_t i = 0; i < n; i++)
			use[i] = false;
	free(r);
	free(part);
	return st;
}

/* ---- directory ids ---- */

static bool printable(const unsigned char *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (v[i] < 0x21 || v[i] > 0x7e)
			return false;
	return true;
}

char *ls_id_text(const char *attr, const void *value, size_t len)
{
	const unsigned char *b = value;
	char *out;

	if (len == 0)
		return NULL;
	/* a GUID's first three fields are stored little-endian */
	if (strcasecmp(attr, "objectGUID") == 0 && len == 16) {
		if ((out = malloc(37)) != NULL)
			snprintf(out, 37,
				 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
				 "%02x%02x%02x%02x%02x%02x",
				 b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10],
				 b[11], b[12], b[13], b[14], b[15]);
		return out;
	}
	if (printable(b, len))
		return len <= LS_ID_MAX ? strndup(value, len) : NULL;
	if (len * 2 > LS_ID_MAX || (out = malloc(len * 2 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return out;
}

char *ls_entry_id(LDAP *ld, LDAPMessage *entry, const char *attr)
{
	struct berval **vals;
	char *id = NULL;

	if (attr[0] == '\0')
		return NULL;
	vals = ldap_get_values_len(ld, entry, attr);
	if (vals != NULL && vals[0] != NULL)
		id = ls_id_text(attr, vals[0]->bv_val, vals[0]->bv_len);
	ldap_value_free_len(vals);
	return id;
}
