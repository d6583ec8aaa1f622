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

#endif
