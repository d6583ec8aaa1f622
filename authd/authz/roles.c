/*
 * The built-in role catalogue, and the check of custom roles' operation maps.
 * A role maps resource types to operations, and each operation to the
 * sub-options it allows ("Container Create": ["Privileged", ...]).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "roles.h"

static const struct builtin_role builtins[] = {
    {"none", "None"},
    {"viewonly", "View Only"},
    {"restrictedcontrol", "Restricted Control"},
    {"scheduler", "Scheduler"},
    {"fullcontrol", "Full Control"},
};
#define N_BUILTINS (sizeof(builtins) / sizeof(builtins[0]))

const struct builtin_role *roles_builtins(size_t *n)
{
	*n = N_BUILTINS;
	return builtins;
}

const struct builtin_role *roles_builtin(const char *key)
{
	for (size_t i = 0; i < N_BUILTINS; i++)
		if (strcmp(builtins[i].id, key) == 0 || strcasecmp(builtins[i].name, key) == 0)
			return &builtins[i];
	return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_view(const char *op)
{
	static const char *const reads[] = {
	    "Container Logs", "Container Stats", "Container Top", "Container Changes",
	    "Image History",  "Service Logs",	 "System Events", "System Disk Usage"};

	if (ends_with(op, " View") || ends_with(op, " View Tasks"))
		return true;
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		if (strcmp(op, reads[i]) == 0)
			return true;
	return false;
}

int roles_builtin_allows(const char *id, enum dk_resource res, const char *op)
{
	unsigned all = (1u << DK_N_SUBOPTIONS) - 1;

	if (strcmp(id, "fullcontrol") == 0)
		return (int)all;
	if (strcmp(id, "viewonly") == 0)
		return is_view(op) ? 0 : -1;
	if (strcmp(id, "scheduler") == 0)
		return strcmp(op, "Node View") == 0 || strcmp(op, "Node Schedule") == 0 ? 0 : -1;
	if (strcmp(id, "restrictedcontrol") == 0) {
		/* view and edit workloads; nothing that reaches the node or the engine itself */
		if (res == DK_NODE || res == DK_SWARM || res == DK_PLUGIN)
			return is_view(op) ? 0 : -1;
		if (strcmp(op, "Container Exec") == 0 || strcmp(op, "System Auth") == 0)
			return -1;
		return 0;
	}
	return -1; /* none */
}

/* Sub-option names of a mask, as a JSON array. */
static json_t *mask_json(unsigned mask)
{
	json_t *a = json_array();

	for (unsigned bit = 1; bit < (1u << DK_N_SUBOPTIONS); bit <<= 1)
		if (mask & bit)
			json_array_append_new(a, json_string(dk_suboption_name(bit)));
	return a;
}

struct ops_json_ctx {
	const char *id;
	json_t *root;
};

static void add_op_json(enum dk_resource res, const char *op, void *ctx)
{
	struct ops_json_ctx *c = ctx;
	int mask = roles_builtin_allows(c->id, res, op);
	json_t *group;

	if (mask < 0)
		return;
	group = json_object_get(c->root, dk_resource_name(res));
	if (group == NULL) {
		group = json_object();
		json_object_set_new(c->root, dk_resource_name(res), group);
	}
	/* only Container Create and the service writes take sub-options */
	json_object_set_new(group, op,
			    strcmp(op, "Container Create") == 0 ||
				    strcmp(op, "Service Create") == 0 ||
				    strcmp(op, "Service Update") == 0
				? mask_json((unsigned)mask)
				: json_array());
}

json_t *roles_builtin_operations(const char *id)
{
	struct ops_json_ctx c = {id, json_object()};

	dk_each_operation(add_op_json, &c);
	return c.root;
}

json_t *roles_json(const char *id, const char *name, bool system_role, json_t *operations)
{
	return json_pack("{s:s, s:s, s:b, s:o}", "id", id, "name", name, "system_role", system_role,
			 "operations", operations ? operations : json_object());
}

unsigned roles_suboption_bit(const char *name)
{
	for (unsigned bit = 1; bit < (1u << DK_N_SUBOPTIONS); bit <<= 1)
		if (strcmp(dk_suboption_name(bit), name) == 0)
			return bit;
	return 0;
}

/* ---- checking custom roles ---- */

struct known_ctx {
	const char *resource, *op;
	bool found;
};

static void find_op(enum dk_resource res, const char *op, void *ctx)
{
	struct known_ctx *k = ctx;

	if (strcmp(dk_resource_name(res), k->resource) == 0 && strcmp(op, k->op) == 0)
		k->found = true;
}

/* The keys a refusal quotes: at most 60 and 80 bytes, cut between characters. */
struct shown_keys {
	char res[61], op[81];
};

static void show_keys(struct shown_keys *shown, const char *res, const char *op)
{
	utf8_clean(shown->res, sizeof(shown->res), res);
	utf8_clean(shown->op, sizeof(shown->op), op);
}

/* One operation's list of sub-options. Every refusal names the form's field, "operations". */
static int check_operation(const char *res, const char *op, json_t *subs, struct refusal *why)
{
	struct known_ctx k = {res, op, false};
	struct shown_keys shown;
	size_t i;
	json_t *s;

	dk_each_operation(find_op, &k);
	show_keys(&shown, res, op);
	if (!k.found)
		return refusal_set(why, "operations", "operations.%s: no operation \"%s\"",
				   shown.res, shown.op);
	if (!json_is_array(subs))
		return refusal_set(why, "operations", "operations.%s.%s: must be a list", shown.res,
				   shown.op);
	json_array_foreach(subs, i, s)
	{
		if (!json_is_string(s) || json_string_length(s) > 100)
			return refusal_set(why, "operations",
					   "operations.%s.%s: sub-options are short strings",
					   shown.res, shown.op);
	}
	return 0;
}

int roles_check_operations(json_t *ops, struct refusal *why)
{
	const char *res, *op;
	json_t *group, *subs;
	struct shown_keys shown;

	if (!json_is_object(ops))
		return refusal_set(why, "operations",
				   "operations: must be an object of resource types");
	json_object_foreach(ops, res, group)
	{
		if (!json_is_object(group)) {
			show_keys(&shown, res, "");
			return refusal_set(why, "operations",
					   "operations.%s: must be an object of operations",
					   shown.res);
		}
		json_object_foreach(group, op, subs)
		{
			if (check_operation(res, op, subs, why) != 0)
				return -1;
		}
	}
	return 0;
}
