/*
 * The string set of strset.h. A sync of a large directory adds every
 * username once, so adding and looking up stay O(1) on average.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strset.h"

/* FNV-1a: short keys, no adversary that could pick colliding usernames cheaply enough to matter */
static size_t hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static size_t find(char *const *slots, size_t cap, const char *s)
{
	size_t i = hash(s) & (cap - 1);

	while (slots[i] != NULL && strcmp(slots[i], s) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

static int grow(struct ls_set *set)
{
	size_t cap = set->cap ? set->cap * 2 : 64;
	char **slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slots[i] != NULL)
			slots[find(slots, cap, set->slots[i])] = set->slots[i];
	free(set->slots);
	set->slots = slots;
	set->cap = cap;
	return 0;
}

int ls_set_add(struct ls_set *set, const char *s)
{
	size_t i;

	/* keep at most half the slots full so that probes stay short */
	if ((set->n + 1) * 2 > set->cap && grow(set) != 0)
		return -1;
	i = find(set->slots, set->cap, s);
	if (set->slots[i] != NULL)
		return 0;
	if ((set->slots[i] = strdup(s)) == NULL)
		return -1;
	set->n++;
	return 1;
}

bool ls_set_has(const struct ls_set *set, const char *s)
{
	return set->cap > 0 && set->slots[find(set->slots, set->cap, s)] != NULL;
}

void ls_set_free(struct ls_set *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
	*set = (struct ls_set){NULL, 0, 0};
}
