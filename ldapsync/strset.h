/*
 * A set of strings for libldapsync's own bookkeeping: the usernames a sync
 * has already seen and the members of a group. Open addressing, grows.
 */
#ifndef AUTHD_LDAPSYNC_STRSET_H
#define AUTHD_LDAPSYNC_STRSET_H

#include <stdbool.h>
#include <stddef.h>

struct ls_set {
	char **slots; /* each a malloc'd copy, or NULL */
	size_t cap;   /* a power of two, or 0 */
	size_t n;
};

/* 1 when s was added (as a copy), 0 when it was there already, -1 when out of memory. */
int ls_set_add(struct ls_set *set, const char *s);
bool ls_set_has(const struct ls_set *set, const char *s);
void ls_set_free(struct ls_set *set);

#endif
