/*
 * Fuzz target for escaping values into LDAP filters (RFC 4515) and DNs (RFC 4514):
 * libldap's own parsers must read each escaped value back as exactly the original
 * bytes, so that no value can change the structure of a filter or a DN.
 */
#include <lber.h>
#include <ldap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#include "ldapsync.h"

/*
 * The filter encoder ldap_search_ext() runs on its filter string. libldap
 * exports it but declares it only in a private header.
 */
int ldap_pvt_put_filter(BerElement *ber, const char *str);

static bool same_bytes(const struct berval *bv, const uint8_t *data, size_t size)
{
	return bv->bv_len == size && (size == 0 || memcmp(bv->bv_val, data, size) == 0);
}

/* "(uid=<escaped>)" is one equality filter whose value is the input. */
static void filter_round_trip(const uint8_t *data, size_t size)
{
	char *esc = ls_escape_filter_value((const char *)data, size);
	BerElement *ber = ber_alloc_t(LBER_USE_DER), *in;
	struct berval *flat = NULL, attr, value;
	ber_len_t len;
	char *filter;

	if (esc == NULL || ber == NULL)
		abort();
	filter = malloc(strlen(esc) + 8);
	if (filter == NULL)
		abort();
	sprintf(filter, "(uid=%s)", esc);
	if (ldap_pvt_put_filter(ber, filter) != 0 || ber_flatten(ber, &flat) != 0)
		abort();
	in = ber_init(flat);
	if (in == NULL || ber_peek_tag(in, &len) != LDAP_FILTER_EQUALITY ||
	    ber_scanf(in, "{mm}", &attr, &value) == LBER_ERROR)
		abort();
	if (attr.bv_len != 3 || memcmp(attr.bv_val, "uid", 3) != 0 ||
	    !same_bytes(&value, data, size))
		abort();
	ber_free(in, 1);
	ber_bvfree(flat);
	ber_free(ber, 1);
	free(filter);
	free(esc);
}

/* "cn=<escaped>,dc=example,dc=com" is three RDNs, the first one AVA whose value is the input. */
static void dn_round_trip(const uint8_t *data, size_t size)
{
	char *esc = ls_escape_dn_value((const char *)data, size), *dn;
	LDAPDN parsed = NULL;
	LDAPAVA *ava;

	/*
	 * libldap writes DN values as UTF-8 strings and refuses bytes that cannot
	 * start a UTF-8 sequence, so NULL is an answer for those, but never for
	 * valid UTF-8.
	 */
	if (esc == NULL) {
		if (u8_check(data, size) == NULL)
			abort();
		return;
	}
	dn = malloc(strlen(esc) + 32);
	if (dn == NULL)
		abort();
	sprintf(dn, "cn=%s,dc=example,dc=com", esc);
	if (ldap_str2dn(dn, &parsed, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || parsed == NULL)
		abort();
	if (parsed[0] == NULL || parsed[1] == NULL || parsed[2] == NULL || parsed[3] != NULL)
		abort();
	ava = parsed[0][0];
	if (ava == NULL || parsed[0][1] != NULL || ava->la_attr.bv_len != 2 ||
	    memcmp(ava->la_attr.bv_val, "cn", 2) != 0 || !same_bytes(&ava->la_value, data, size))
		abort();
	ldap_dnfree(parsed);
	free(dn);
	free(esc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	filter_round_trip(data, size);
	dn_round_trip(data, size);
	return 0;
}
