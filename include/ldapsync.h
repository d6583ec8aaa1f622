/*
 * libldapsync: what authd knows of LDAP directories, and the name rules that
 * directory values and API input share. Knows libldap; knows nothing of HTTP
 * or the store.
 */
#ifndef AUTHD_LDAPSYNC_H
#define AUTHD_LDAPSYNC_H

#include <stddef.h>

#define LS_NAME_MAX_CHARS 100

/*
 * Normalises an account or team name the way SPEC §4 and §6.3 want it:
 * NFC, lowercased (Unicode-aware), 1..100 characters, no control or
 * whitespace characters and none of / \ [ ] : ; | = , + * ? < > ' ".
 * Returns a malloc'd string the caller frees, or NULL with *why set to a
 * static message that completes "name: ...".
 */
char *ls_name_normalize(const char *in, size_t len, const char **why);

/*
 * A value put into a search filter, escaped per RFC 4515 (*, (, ), \ and NUL
 * as \XX). malloc'd; the caller frees it. NULL when out of memory.
 */
char *ls_escape_filter_value(const char *value, size_t len);

/*
 * An attribute value put into a DN, escaped per RFC 4514 (leading space or
 * #, trailing space, and , + " \ < > ; = among others). malloc'd; the caller
 * frees it. NULL when out of memory.
 */
char *ls_escape_dn_value(const char *value, size_t len);

/*
 * How many labels of `domain` ("eu.example.com") the DN ends with, compared
 * per RDN and case-insensitively as dc=eu,dc=example,dc=com (SPEC §6.2):
 * the label count when the whole domain is a suffix of the DN, else 0; -1
 * when the DN does not parse.
 */
int ls_domain_suffix(const char *domain, const char *dn);

/*
 * The server for a base DN: the index of the domain that is its longest
 * suffix, or -1 for the default (top-level) server, also when the DN does
 * not parse.
 */
int ls_pick_server(const char *const *domains, size_t n, const char *base_dn);

#endif
