/*
 * Where a service may run, for Node Schedule (SPEC §5): the swarm's nodes
 * as the engine lists them, and a spec's placement constraints evaluated
 * against each node the way swarmkit evaluates them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "dockerapi.h"
#include "internal.h"

/*
 * The model. swarmkit places a task only on a node that satisfies every
 * constraint of its service ("node.role==worker", "node.labels.zone!=b").
 * authd cannot add constraints as MKE does; it can only allow or deny, so
 * it asks which nodes a service may ever be placed on, and the caller
 * requires Node Schedule on each of them. A wrong "may not" here would let
 * a service onto a node its author may not schedule on, a wrong "may" only
 * denies more; so wherever authd cannot be sure, it answers "may":
 * constraints swarmkit would reject or that authd cannot read alike
 * (non-ASCII text, which Go folds in its own way), keys it does not
 * evaluate (node.ip, keys of later engines), and values of unexpected types.
 */

struct dk_nodes {
	json_t
	    *list; /* of {"ID","Hostname","Role","Manager","OS","Arch","Labels","EngineLabels"} */
	bool labelled;
};

/* ---- reading the engine's list ---- */

static json_t *at(json_t *obj, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(obj, a);

	if (b != NULL)
		v = json_object_get(v, b);
	if (c != NULL)
		v = json_object_get(v, c);
	return v;
}

/* Sets key to v (a new reference) unless v is absent. */
static void keep(json_t *slim, const char *key, json_t *v)
{
	if (v != NULL)
		json_object_set(slim, key, v);
}

/* What placement reads of a node of GET /nodes; the rest (TLS info, plugins...) is dropped. */
static json_t *slim_node(json_t *node)
{
	json_t *slim = json_object();

	if (slim == NULL)
		return NULL;
	keep(slim, "ID", json_object_get(node, "ID"));
	keep(slim, "Hostname", at(node, "Description", "Hostname", NULL));
	keep(slim, "Role", at(node, "Spec", "Role", NULL));
	/* the role swarmkit matches is the one the node has now, which Spec.Role may not be yet */
	json_object_set_new(slim, "Manager", json_boolean(json_object_get(node, "ManagerStatus")));
	keep(slim, "OS", at(node, "Description", "Platform", "OS"));
	keep(slim, "Arch", at(node, "Description", "Platform", "Architecture"));
	keep(slim, "Labels", at(node, "Spec", "Labels", NULL));
	keep(slim, "EngineLabels", at(node, "Description", "Engine", "Labels"));
	return slim;
}

static const char *label_of(json_t *slim)
{
	return json_string_value(at(slim, "Labels", ACCESS_LABEL, NULL));
}

static struct dk_nodes *refuse_nodes(json_t *answer, json_t *list, struct refusal *why,
				     const char *msg)
{
	json_decref(answer);
	json_decref(list);
	if (why != NULL)
		refusal_set(why, "", "%s", msg);
	return NULL;
}

struct dk_nodes *dk_nodes_read(const char *json, size_t len, struct refusal *why)
{
	json_t *answer = json ? json_loadb(json, len, 0, NULL) : NULL, *list, *node;
	struct dk_nodes *n;
	bool labelled = false;
	size_t i;

	if (!json_is_array(answer))
		return refuse_nodes(answer, NULL, why, "the engine's list of nodes is not JSON");
	if (json_array_size(answer) > DK_MAX_NODES)
		return refuse_nodes(answer, NULL, why, "the swarm has more nodes than authd reads");
	list = json_array();
	json_array_foreach(answer, i, node)
	{
		json_t *slim = json_is_object(node) ? slim_node(node) : NULL;

		if (slim == NULL || json_array_append_new(list, slim) != 0)
			return refuse_nodes(answer, list, why,
					    "the engine's list of nodes has an entry that is not "
					    "a node");
		labelled = labelled || label_of(slim) != NULL;
	}
	json_decref(answer);
	if ((n = malloc(sizeof(*n))) == NULL)
		return refuse_nodes(NULL, list, why, "out of memory");
	n->list = list;
	n->labelled = labelled;
	return n;
}

void dk_nodes_free(struct dk_nodes *n)
{
	if (n == NULL)
		return;
	json_decref(n->list);
	free(n);
}

size_t dk_nodes_count(const struct dk_nodes *n)
{
	return n ? json_array_size(n->list) : 0;
}

bool dk_nodes_labelled(const struct dk_nodes *n)
{
	return n != NULL && n->labelled;
}

const char *dk_node_name(const struct dk_nodes *n, size_t i)
{
	json_t *node = json_array_get(n->list, i);
	const char *name = json_string_value(json_object_get(node, "Hostname"));

	if (name == NULL || name[0] == '\0')
		name = json_string_value(json_object_get(node, "ID"));
	return name ? name : "(a node without a name)";
}

const char *dk_node_label(const struct dk_nodes *n, size_t i)
{
	return label_of(json_array_get(n->list, i));
}

/* ---- constraints, as swarmkit's constraint.Parse reads them ---- */

struct constraint {
	char key[DK_CONSTRAINT_LEN];
	bool equal; /* "==" rather than "!=" */
	char value[DK_CONSTRAINT_LEN];
};

/* Go's strings.TrimSpace, on the ASCII text that is all authd parses. */
static bool is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static void trim_into(const char *s, size_t n, char *out)
{
	while (n > 0 && is_space(*s))
		s++, n--;
	while (n > 0 && is_space(s[n - 1]))
		n--;
	memcpy(out, s, n);
	out[n] = '\0';
}

static bool is_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_alnum(char c)
{
	return is_letter(c) || (c >= '0' && c <= '9');
}

/* swarmkit's key pattern, ^(?i)[a-z_][a-z0-9\-_.]+$, for ASCII keys. */
static bool key_ok(const char *k)
{
	if ((!is_letter(k[0]) && k[0] != '_') || k[1] == '\0')
		return false;
	for (k++; *k; k++)
		if (!is_alnum(*k) && strchr("-_.", *k) == NULL)
			return false;
	return true;
}

/* swarmkit's value pattern, ^(?i)[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$, for ASCII values. */
static bool value_ok(const char *v)
{
	if (v[0] == '\0')
		return false;
	for (; *v; v++)
		if (!is_alnum(*v) && strchr(":-_\t\n\f\r .*()?+[]\\^$|/", *v) == NULL)
			return false;
	return true;
}

static bool ascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return false;
	return true;
}

/*
 * One constraint as swarmkit splits it: at the first "==", or else at the
 * first "!=". false for what swarmkit rejects or authd cannot read alike.
 */
static bool parse(const char *text, struct constraint *c)
{
	const char *op = strstr(text, "==");

	c->equal = op != NULL;
	if (op == NULL && (op = strstr(text, "!=")) == NULL)
		return false;
	if (!ascii(text))
		return false;
	trim_into(text, (size_t)(op - text), c->key);
	trim_into(op + 2, strlen(op + 2), c->value);
	return key_ok(c->key) && value_ok(c->value);
}

/* ---- evaluating them on a node ---- */

/* Whether a node whose value is `what` ("" when it has none) may satisfy c. */
static bool may_hold_text(const struct constraint *c, const char *what)
{
	return dk_fold_equal(what, c->value) == c->equal;
}

/* The same for a value of the node's JSON: absent reads as "", any other type as unsure. */
static bool may_hold(const struct constraint *c, json_t *what)
{
	if (what != NULL && !json_is_string(what))
		return true;
	return may_hold_text(c, what ? json_string_value(what) : "");
}

static bool prefixed(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncasecmp(key, prefix, n) == 0 && key[n] != '\0';
}

/* A label's value; labels themselves are matched by their exact name. */
static bool label_may_hold(const struct constraint *c, json_t *labels, const char *name)
{
	if (labels != NULL && !json_is_object(labels))
		return true;
	return may_hold(c, json_object_get(labels, name));
}

static bool node_may_satisfy(const struct constraint *c, json_t *node)
{
	const char *k = c->key;

	if (strcasecmp(k, "node.id") == 0)
		return may_hold(c, json_object_get(node, "ID"));
	if (strcasecmp(k, "node.hostname") == 0)
		return may_hold(c, json_object_get(node, "Hostname"));
	if (strcasecmp(k, "node.role") == 0)
		return may_hold(c, json_object_get(node, "Role")) ||
		       may_hold_text(c, json_is_true(json_object_get(node, "Manager")) ? "manager"
										       : "worker");
	if (strcasecmp(k, "node.platform.os") == 0)
		return may_hold(c, json_object_get(node, "OS"));
	if (strcasecmp(k, "node.platform.arch") == 0)
		return may_hold(c, json_object_get(node, "Arch"));
	if (prefixed(k, "node.labels."))
		return label_may_hold(c, json_object_get(node, "Labels"),
				      k + strlen("node.labels."));
	if (prefixed(k, "engine.labels."))
		return label_may_hold(c, json_object_get(node, "EngineLabels"),
				      k + strlen("engine.labels."));
	return true; /* node.ip, and keys of later engines */
}

bool dk_node_may_run(const struct dk_nodes *n, size_t i, const struct dk_uses *uses)
{
	json_t *node = json_array_get(n->list, i);
	struct constraint c;

	if (node == NULL)
		return false;
	for (size_t j = 0; uses != NULL && j < uses->nconstraints; j++)
		if (parse(uses->constraints[j], &c) && !node_may_satisfy(&c, node))
			return false;
	return true;
}
