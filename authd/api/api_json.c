/*
 * Accounts, teams and members as the API shows them. Nothing secret is in
 * the structs these read, so nothing secret can leak through them.
 */
#include "api.h"

static json_t *time_json(int64_t t)
{
	char buf[32];

	format_time(t, buf, sizeof(buf));
	return json_string(buf);
}

json_t *account_json(const struct account *a)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(a->id));
	json_object_set_new(o, "name", json_string(a->name));
	json_object_set_new(o, "fullName", json_string(a->full_name));
	json_object_set_new(o, "isOrg", json_boolean(a->is_org));
	json_object_set_new(o, "isAdmin", json_boolean(a->is_admin));
	json_object_set_new(o, "isActive", json_boolean(a->is_active));
	json_object_set_new(o, "isImported", json_boolean(a->is_imported));
	if (a->ldap_dn[0] != '\0')
		json_object_set_new(o, "ldapDN", json_string(a->ldap_dn));
	json_object_set_new(o, "createdAt", time_json(a->created_at));
	json_object_set_new(o, "updatedAt", time_json(a->updated_at));
	if (a->is_org) {
		json_object_set_new(o, "membersCount", json_integer(a->members_count));
		json_object_set_new(o, "teamsCount", json_integer(a->teams_count));
	}
	return o;
}

json_t *team_json(const struct team *t)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(t->id));
	json_object_set_new(o, "orgID", json_string(t->org_id));
	json_object_set_new(o, "name", json_string(t->name));
	json_object_set_new(o, "description", json_string(t->description));
	json_object_set_new(o, "membersCount", json_integer(t->members_count));
	json_object_set_new(o, "createdAt", time_json(t->created_at));
	json_object_set_new(o, "updatedAt", time_json(t->updated_at));
	return o;
}

json_t *member_json(const struct member *m)
{
	return json_pack("{s:o, s:b}", "member", account_json(&m->account), "isAdmin", m->is_admin);
}

json_t *pubkey_json(const struct pubkey *k)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(k->id));
	json_object_set_new(o, "label", json_string(k->label));
	json_object_set_new(o, "publicKey", json_string(k->public_key));
	json_object_set_new(o, "certificate", json_string(k->certificate));
	json_object_set_new(o, "fingerprint", json_string(k->fingerprint));
	json_object_set_new(o, "scope", json_string(k->scope));
	json_object_set_new(o, "createdAt", time_json(k->created_at));
	json_object_set_new(o, "notAfter", time_json(k->not_after));
	return o;
}
