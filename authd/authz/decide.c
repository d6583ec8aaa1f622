/*
 * Decisions (SPEC §5, §8): who a certificate or an account is, and whether
 * it may do an operation on a collection.
 *
 * The model. A role maps resource types to operations, and each operation
 * to the sub-options it allows. Collections form a tree rooted at "/". A
 * grant gives a subject (a user, a team or an organization) a role on a
 * collection and, through it, on every collection below. A user may do an
 * operation on a resource when some grant of the user, of one of its teams
 * or of one of its organizations is on the resource's collection or an
 * ancestor of it, and its role has the operation with every sub-option the
 * request needs. Admins may do everything; inactive accounts, and LDAP
 * accounts missing from the directory, nothing. Lists and system calls have
 * no single target: they are allowed when any grant's role has the operation
 * (what the engine returns is not filtered). Ping, version and info are open
 * to any authenticated account, so that `docker version` works for everyone.
 *
 * Everything here reads one snapshot the caller holds, and nothing else but
 * the key index beside it: no SQL and no lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"

#define UNAVAILABLE "authorization data is unavailable; try again shortly"

static const struct s_account *account_by_id(const struct snapshot *s, const char *id)
{
	long i = snapshot_find(s->accounts, s->naccounts, sizeof(*s->accounts), id);

	return i < 0 ? NULL : &s->accounts[i];
}

static int usable(const struct s_account *a, struct refusal *why)
{
	if (a == NULL || a->org)
		return refusal_set(why, "", "the account no longer exists");
	if (!a->active || a->missing)
		return refusal_set(why, "", "the account \"%s\" is %s", a->name,
				   a->active ? "missing from LDAP" : "inactive");
	return 0;
}

static void fill_subject(const struct s_account *a, const char *key_id, struct rbac_subject *who)
{
	snprintf(who->account_id, sizeof(who->account_id), "%s", a->id);
	snprintf(who->account, sizeof(who->account), "%s", a->name);
	snprintf(who->key_id, sizeof(who->key_id), "%s", key_id);
	who->is_admin = a->admin;
}

/*
 * The fingerprint pins the exact certificate authd issued, or accepted after
 * checking its chain, its purpose and that its CN names the account; so the
 * account's name is the certificate's CN, and nothing needs parsing here.
 */
int rbac_identify_key(const struct snapshot *s, const char *fingerprint, const char *user,
		      struct rbac_subject *who, struct refusal *why)
{
	const struct s_key *k;
	const struct s_account *a;

	if (s == NULL)
		return refusal_set(why, "", UNAVAILABLE);
	if ((k = key_index_find(s->keys, fingerprint)) == NULL)
		return refusal_set(why, "",
				   "the certificate's key was revoked or never issued here");
	if (k->not_after < now_seconds())
		return refusal_set(why, "", "the certificate has expired; download a new bundle");
	a = account_by_id(s, k->account_id);
	if (usable(a, why) != 0)
		return -1;
	if (user != NULL && strcmp(user, a->name) != 0)
		return refusal_set(why, "", "the engine's user does not match the certificate");
	fill_subject(a, k->key_id, who);
	return 0;
}

int rbac_identify_account(const struct snapshot *s, const char *name, struct rbac_subject *who,
			  struct refusal *why)
{
	struct s_account key = {.name = (char *)name}, *kp = &key, **hit;
	char shown[101];

	if (s == NULL)
		return refusal_set(why, "", UNAVAILABLE);
	hit = s->naccounts
		  ? bsearch(&kp, s->by_name, s->naccounts, sizeof(*s->by_name), snapshot_cmp_name)
		  : NULL;
	if (hit == NULL)
		return refusal_set(why, "", "no account \"%s\"",
				   utf8_clean(shown, sizeof(shown), name));
	if (usable(*hit, why) != 0)
		return -1;
	fill_subject(*hit, "", who);
	return 0;
}

void rbac_private_collection(const char *account, char *out, size_t len)
{
	snprintf(out, len, "/Shared/Private/%s", account);
}

/* The index of the collection at `path`, or -1. */
static long collection_at(const struct snapshot *s, const char *path)
{
	struct s_coll key = {.path = (char *)path}, *kp = &key, **hit;

	hit = s->ncolls ? bsearch(&kp, s->coll_by_path, s->ncolls, sizeof(*s->coll_by_path),
				  snapshot_cmp_path)
			: NULL;
	return hit ? *hit - s->colls : -1;
}

bool rbac_has_collection(const struct snapshot *s, const char *path)
{
	return s != NULL && collection_at(s, path) >= 0;
}

static const struct s_op *role_op(const struct s_role *role, const char *key)
{
	return role->nops
		   ? bsearch(key, role->ops, role->nops, sizeof(*role->ops), snapshot_cmp_str)
		   : NULL;
}

static bool is_ancestor(const struct snapshot *s, long ancestor, long c)
{
	/* the tree is shallow; the bound guards against a cycle in bad data */
	for (int depth = 0; c >= 0 && depth < 64; depth++, c = s->colls[c].parent)
		if (c == ancestor)
			return true;
	return false;
}

/* Scan state: the best answer so far, and what fell short of one. */
struct scan {
	const struct snapshot *s;
	const char *key;
	unsigned needs;
	long target; /* -1: any collection */
	struct rbac_verdict *v;
	unsigned missing; /* sub-options a role with the operation lacked */
};

/* Looks at the grants of one subject; true when one allows. */
static bool scan_subject(struct scan *sc, const char *subject)
{
	const struct snapshot *s = sc->s;
	long i = snapshot_find(s->grants, s->ngrants, sizeof(*s->grants), subject);

	/* bsearch lands anywhere in the run of this subject's grants */
	while (i > 0 && strcmp(s->grants[i - 1].subject, subject) == 0)
		i--;
	for (; i >= 0 && (size_t)i < s->ngrants && strcmp(s->grants[i].subject, subject) == 0;
	     i++) {
		const struct s_grant *g = &s->grants[i];
		const struct s_role *role = &s->roles[g->role];
		const struct s_op *op = role_op(role, sc->key);

		if (op == NULL || (sc->target >= 0 && !is_ancestor(s, g->coll, sc->target)))
			continue;
		if ((sc->needs & ~op->mask) != 0) {
			sc->missing |= sc->needs & ~op->mask;
			continue;
		}
		sc->v->allow = true;
		snprintf(sc->v->role, sizeof(sc->v->role), "%s", role->name);
		snprintf(sc->v->collection, sizeof(sc->v->collection), "%s",
			 s->colls[g->coll].path);
		return true;
	}
	return false;
}

/* The user, then its teams and orgs: every subject whose grants count. */
static bool scan_all(struct scan *sc, const char *user_id)
{
	const struct snapshot *s = sc->s;
	long i = snapshot_find(s->members, s->nmembers, sizeof(*s->members), user_id);

	if (scan_subject(sc, user_id))
		return true;
	while (i > 0 && strcmp(s->members[i - 1].user, user_id) == 0)
		i--;
	for (; i >= 0 && (size_t)i < s->nmembers && strcmp(s->members[i].user, user_id) == 0; i++)
		if (scan_subject(sc, s->members[i].group))
			return true;
	return false;
}

static void deny_message(const struct scan *sc, const struct rbac_subject *who,
			 const struct rbac_request *req, struct rbac_verdict *v)
{
	char names[256] = "";

	for (unsigned bit = 1; bit < (1u << DK_N_SUBOPTIONS); bit <<= 1) {
		if (sc->missing & bit)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 names[0] ? ", " : "", dk_suboption_name(bit));
	}
	if (names[0])
		snprintf(v->msg, sizeof(v->msg),
			 "%s may do %s%s%s but not with %s; ask an admin for a role that allows it",
			 who->account, req->op->operation, req->collection ? " in " : "",
			 req->collection ? req->collection : "", names);
	else
		snprintf(v->msg, sizeof(v->msg), "%s has no grant for %s%s%s; ask an admin for one",
			 who->account, req->op->operation, req->collection ? " in " : "",
			 req->collection ? req->collection : "");
}

static bool open_to_all(const struct dk_op *op)
{
	return op->resource == DK_SYSTEM && (strcmp(op->operation, "System Ping") == 0 ||
					     strcmp(op->operation, "System Version") == 0 ||
					     strcmp(op->operation, "System Info") == 0);
}

void rbac_decide(const struct snapshot *s, const struct rbac_subject *who,
		 const struct rbac_request *req, struct rbac_verdict *v)
{
	char opkey[OPKEY_LEN];
	struct scan sc = {s, opkey, req->needs, -1, v, 0};

	memset(v, 0, sizeof(*v));
	snprintf(v->collection, sizeof(v->collection), "%s",
		 req->collection ? req->collection : "");
	if (s == NULL) {
		snprintf(v->msg, sizeof(v->msg), UNAVAILABLE);
		return;
	}
	if (who->is_admin || open_to_all(req->op)) {
		v->allow = true;
		snprintf(v->role, sizeof(v->role), "%s", who->is_admin ? "admin" : "any account");
		snprintf(v->msg, sizeof(v->msg), "allowed");
		return;
	}
	if (req->collection != NULL && (sc.target = collection_at(s, req->collection)) < 0) {
		char shown[201];

		snprintf(v->msg, sizeof(v->msg), "there is no collection %s",
			 utf8_clean(shown, sizeof(shown), req->collection));
		return;
	}
	snprintf(opkey, sizeof(opkey), "%s/%s", dk_resource_name(req->op->resource),
		 req->op->operation);
	if (scan_all(&sc, who->account_id)) {
		snprintf(v->msg, sizeof(v->msg), "allowed");
		return;
	}
	deny_message(&sc, who, req, v);
}
