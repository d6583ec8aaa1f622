/*
 * Escaping of values on their way into LDAP filters (RFC 4515) and DNs
 * (RFC 4514), both done by libldap, and the per-RDN suffix match that picks
 * a domain's server for a base DN (SPEC §6.2).
 */
#include <ldap.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistr.h>

#include "ldapsync.h"

/* A malloc'd, NUL-terminated copy of a berval libldap allocated, which it frees. */
static char *take_berval(struct berval *bv)
{
	char *s = malloc(bv->bv_len + 1);

	/* an empty value comes back without a buffer, and memcpy must not see NULL */
	if (s != NULL && bv->bv_len > 0)
		memcpy(s, bv->bv_val, bv->bv_len);
	if (s != NULL)
		s[bv->bv_len] = '\0';
	ber_memfree(bv->bv_val);
	return s;
}

char *ls_escape_filter_value(const char *value, size_t len)
{
	struct berval in = {len, (char *)value}, out = {0, NULL};

	if (ldap_bv2escaped_filter_value(&in, &out) != LDAP_SUCCESS)
		return NULL;
	return take_berval(&out);
}

char *ls_escape_dn_value(const char *value, size_t len)
{
	/* libldap escapes values when it writes a DN: write "x=<value>" and keep the value */
	LDAPAVA ava = {{1, (char *)"x"}, {len, (char *)value}, LDAP_AVA_STRING, NULL};
	LDAPAVA *rdn[] = {&ava, NULL};
	LDAPRDN dn[] = {rdn, NULL};
	struct berval out = {0, NULL};
	char *s;

	/*
	 * libldap reads a multi-byte character whole even when the value ends
	 * inside it, past len, and copies what it finds there into the DN: only
	 * complete UTF-8 reaches it.
	 */
	if (u8_check((const uint8_t *)value, len) != NULL)
		return NULL;
	/* PRETTY keeps UTF-8 as it is instead of hex-escaping every non-ASCII byte */
	if (ldap_dn2bv(dn, &out, LDAP_DN_FORMAT_LDAPV3 | LDAP_DN_PRETTY) != LDAP_SUCCESS)
		return NULL;
	s = take_berval(&out);
	if (s != NULL)
		memmove(s, s + 2, strlen(s + 2) + 1);
	return s;
}

/* Whether an RDN is exactly dc=<label>, case-insensitively. */
static int rdn_is_label(LDAPRDN rdn, const char *label, size_t len)
{
	const LDAPAVA *ava = rdn[0];

	return ava != NULL && rdn[1] == NULL && ava->la_attr.bv_len == 2 &&
	       strncasecmp(ava->la_attr.bv_val, "dc", 2) == 0 && ava->la_value.bv_len == len &&
	       strncasecmp(ava->la_value.bv_val, label, len) == 0;
}

int ls_domain_suffix(const char *domain, const char *dn)
{
	LDAPDN parsed = NULL;
	int nrdns = 0, nlabels = 1, matched = 0;
	const char *end;

	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS)
		return -1;
	for (const char *p = domain; *p; p++)
		nlabels += *p == '.';
	while (parsed != NULL && parsed[nrdns] != NULL)
		nrdns++;
	/* walk the domain's labels right to left against the DN's last RDNs */
	end = domain + strlen(domain);
	while (matched < nlabels && matched < nrdns) {
		const char *start = end;

		while (start > domain && start[-1] != '.')
			start--;
		if (!rdn_is_label(parsed[nrdns - 1 - matched], start, (size_t)(end - start)))
			break;
		matched++;
		end = start > domain ? start - 1 : start;
	}
	ldap_dnfree(parsed);
	return matched == nlabels && domain[0] != '\0' ? nlabels : 0;
}

int ls_pick_server(const char *const *domains, size_t n, const char *base_dn)
{
	int best = -1, best_len = 0;

	for (size_t i = 0; i < n; i++) {
		int len = ls_domain_suffix(domains[i], base_dn);

		if (len > best_len) {
			best = (int)i;
			best_len = len;
		}
	}
	return best;
}
