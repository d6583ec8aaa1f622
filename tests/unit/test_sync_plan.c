/*
 * Unit tests of an LDAP sync's plan (authd/sync/sync_plan.c), with no
 * directory and no store: each row of SPEC §6.5's user semantics (A∩B, B−A
 * and A−B, with JIT on and off), the deactivation guard at its boundaries
 * (exactly five users, exactly the percentage, force), team members added and
 * removed, the member-removal guard of a team at its boundaries, system and
 * org admins promoted and demoted, the last-admin rule, a member named by the
 * DN it was moved to in the same sync, and a targeted sync; accounts matched
 * by their directory id when moved and renamed, and another entry of the
 * same name never merged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sync/sync_plan.h"
#include "unit.h"

/* ---- fixtures ---- */

static char said[8192];

static void say(void *ctx, const char *line)
{
	(void)ctx;
	snprintf(said + strlen(said), sizeof(said) - strlen(said), "%s\n", line);
}

static struct ls_log log_sink = {say, NULL};
static int next_id;

static int fixed_id(char out[ID_LEN])
{
	snprintf(out, ID_LEN, "new-%d", ++next_id);
	return 0;
}

static struct plan p;

static void start(bool jit, int pct, bool force, const char *target)
{
	const struct plan_options o = {jit, force, pct, target, &log_sink, fixed_id};

	said[0] = '\0';
	next_id = 0;
	plan_init(&p, &o);
}

static void teardown(void)
{
	plan_free(&p);
}

/* An imported account whose entry has the directory id ldap_id ("" for none). */
static void stored_with_id(const char *name, const char *ldap_id, bool active, bool admin,
			   bool missing, bool deactivated)
{
	char id[64], dn[128], full[128];

	snprintf(id, sizeof(id), "id-%s", name);
	snprintf(dn, sizeof(dn), "uid=%s,ou=people,dc=example,dc=com", name);
	snprintf(full, sizeof(full), "User %s", name);
	ck_assert_int_eq(
	    plan_add_account(&p, id, name, dn, ldap_id, full, active, admin, missing, deactivated),
	    0);
}

/* An imported account, active and not an admin unless flags say otherwise; its id dir-<name>. */
static void stored(const char *name, bool active, bool admin, bool missing, bool deactivated)
{
	char ldap_id[64];

	snprintf(ldap_id, sizeof(ldap_id), "dir-%s", name);
	stored_with_id(name, ldap_id, active, admin, missing, deactivated);
}

static void found_at(const char *name, const char *parent, const char *ldap_id)
{
	char dn[128], full[128];

	snprintf(dn, sizeof(dn), "uid=%s,%s", name, parent);
	snprintf(full, sizeof(full), "User %s", name);
	ck_assert_int_eq(plan_user_found(&p, name, dn, ldap_id, full), 0);
}

/* A directory user in ou=people whose id is dir-<name>, as stored() has it. */
static void found(const char *name)
{
	char ldap_id[64];

	snprintf(ldap_id, sizeof(ldap_id), "dir-%s", name);
	found_at(name, "ou=people,dc=example,dc=com", ldap_id);
}

static const struct plan_account *account(const char *name)
{
	for (size_t i = 0; i < p.naccounts; i++)
		if (strcmp(p.accounts[i].name, name) == 0)
			return &p.accounts[i];
	return NULL;
}

/* The changes as "action name" lines, in order. */
static const char *changes(void)
{
	static char buf[4096];

	buf[0] = '\0';
	for (size_t i = 0; i < p.nchanges; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s %s",
			 buf[0] ? ", " : "", plan_action_name(p.changes[i].what),
			 p.changes[i].name);
	return buf;
}

/* The store's side is in, the directory's users found: plan them. */
static int plan_found_users(void)
{
	return plan_users(&p);
}

/* ---- A∩B, B−A, A−B (SPEC §6.5) ---- */

START_TEST(unchanged_users_change_nothing)
{
	start(false, 10, false, "");
	stored("ann", true, false, false, false);
	plan_accounts_done(&p);
	found("ann");
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "");
	ck_assert(account("ann")->in_dir);
	teardown();
}
END_TEST

START_TEST(users_found_again_are_updated)
{
	start(false, 10, false, "");
	stored("ann", true, false, false, false);
	plan_accounts_done(&p);
	ck_assert_int_eq(
	    plan_user_found(&p, "ann", "uid=ann,ou=moved,dc=example,dc=com", "dir-ann", "Ann B"),
	    0);
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "update ann");
	ck_assert_str_eq(p.changes[0].dn, "uid=ann,ou=moved,dc=example,dc=com");
	ck_assert_str_eq(p.changes[0].full_name, "Ann B");
	ck_assert_uint_eq(p.sum.updated, 1);
	teardown();
}
END_TEST

/* Sync gives back what sync took: a deactivation or a missing mark of its own, not an admin's. */
START_TEST(users_back_are_reactivated_only_from_what_sync_did)
{
	start(false, 10, false, "");
	stored("by-sync", false, false, false, true);
	stored("missing", true, false, true, false);
	stored("by-admin", false, false, false, false);
	plan_accounts_done(&p);
	found("by-sync");
	found("missing");
	found("by-admin");
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "reactivate by-sync, reactivate missing");
	ck_assert(account("by-sync")->n_active && !account("by-sync")->n_deactivated);
	ck_assert(!account("missing")->n_missing);
	ck_assert(!account("by-admin")->n_active);
	ck_assert_uint_eq(p.sum.reactivated, 2);
	teardown();
}
END_TEST

START_TEST(new_users_are_created_only_with_jit_off)
{
	start(false, 10, false, "");
	plan_accounts_done(&p);
	found("bob");
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "create bob");
	ck_assert(account("bob")->created && account("bob")->n_active);
	ck_assert_str_eq(account("bob")->id, "new-1");
	ck_assert_str_eq(p.changes[0].dn, "uid=bob,ou=people,dc=example,dc=com");
	teardown();

	/* with JIT on, users arrive at their first login */
	start(true, 10, false, "");
	plan_accounts_done(&p);
	found("bob");
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "");
	ck_assert_ptr_null(account("bob"));
	teardown();
}
END_TEST

START_TEST(new_users_never_take_a_local_name)
{
	start(false, 10, false, "");
	ck_assert_int_eq(plan_add_local_name(&p, "root"), 0);
	plan_accounts_done(&p);
	found("root");
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "");
	ck_assert_uint_eq(p.sum.skipped, 1);
	ck_assert_ptr_nonnull(strstr(said, "skipped uid=root,"));
	teardown();
}
END_TEST

START_TEST(users_gone_are_deactivated_with_jit_off)
{
	start(false, 100, false, "");
	stored("gone", true, false, false, false);
	stored("off", false, false, false, false);
	plan_accounts_done(&p);
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "deactivate gone");
	ck_assert(!account("gone")->n_active && account("gone")->n_deactivated);
	ck_assert_uint_eq(p.sum.deactivated, 1);
	teardown();
}
END_TEST

START_TEST(users_gone_are_marked_missing_with_jit_on)
{
	start(true, 100, false, "");
	stored("gone", true, false, false, false);
	stored("already", true, false, true, false);
	plan_accounts_done(&p);
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "markMissing gone");
	ck_assert(account("gone")->n_active && account("gone")->n_missing);
	ck_assert_uint_eq(p.sum.marked_missing, 1);
	teardown();
}
END_TEST

/* ---- directory ids ---- */

START_TEST(a_moved_and_renamed_user_is_matched_by_its_id)
{
	start(false, 10, false, "");
	stored("ann", true, false, false, false);
	plan_accounts_done(&p);
	found_at("annie", "ou=moved,dc=example,dc=com", "dir-ann");
	ck_assert_int_eq(plan_found_users(), 0);
	/* the account keeps its name: no annie is made, and ann is not deactivated */
	ck_assert_str_eq(changes(), "update ann");
	ck_assert_str_eq(p.changes[0].dn, "uid=annie,ou=moved,dc=example,dc=com");
	ck_assert_ptr_nonnull(strstr(said, "account ann is annie in the directory now"));
	teardown();
}
END_TEST

START_TEST(another_entry_of_the_same_name_is_not_merged)
{
	start(false, 10, false, "");
	stored("ann", true, false, false, false);
	stored("bob", true, false, false, false);
	plan_accounts_done(&p);
	found_at("ann", "ou=people,dc=example,dc=com", "dir-someone-else");
	found("bob");
	ck_assert_int_eq(plan_found_users(), 0);
	/* ann's entry is gone: its account goes, and the new entry does not take it over */
	ck_assert_str_eq(changes(), "deactivate ann");
	ck_assert_uint_eq(p.sum.skipped, 1);
	ck_assert_ptr_nonnull(strstr(said, "ann is not merged"));
	teardown();
}
END_TEST

START_TEST(accounts_without_an_id_are_matched_by_name_and_get_one)
{
	start(false, 10, false, "");
	stored_with_id("ann", "", true, false, false, false);
	stored("bob", true, false, false, false);
	plan_accounts_done(&p);
	found("ann");
	/* an entry without an id (the directory has none) matches by name too */
	found_at("bob", "ou=people,dc=example,dc=com", "");
	ck_assert_int_eq(plan_found_users(), 0);
	/* recording an id is no change the summary or the log counts */
	ck_assert_str_eq(changes(), "");
	ck_assert_str_eq(account("ann")->ldap_id, "dir-ann");
	ck_assert(account("ann")->id_recorded);
	ck_assert_str_eq(account("bob")->ldap_id, "dir-bob");
	ck_assert(!account("bob")->id_recorded);
	teardown();
}
END_TEST

START_TEST(an_id_is_never_given_twice)
{
	start(false, 10, false, "");
	stored_with_id("ann", "", true, false, false, false);
	plan_accounts_done(&p);
	/* ann gets dir-x by name; zed, a new user with the same id, is not made */
	found_at("ann", "ou=people,dc=example,dc=com", "dir-x");
	found_at("zed", "ou=people,dc=example,dc=com", "dir-x");
	/* two new users with one id: the first by name is made */
	found_at("yan", "ou=people,dc=example,dc=com", "dir-y");
	found_at("xia", "ou=people,dc=example,dc=com", "dir-y");
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "create xia");
	ck_assert_uint_eq(p.sum.skipped, 2);
	ck_assert_ptr_nonnull(strstr(said, "skipped uid=zed,"));
	ck_assert_ptr_nonnull(strstr(said, "skipped uid=yan,"));
	teardown();

	/* one account is matched by one entry: a second one of its name is skipped */
	start(false, 10, false, "");
	stored("ann", true, false, false, false);
	plan_accounts_done(&p);
	found_at("annie", "ou=moved,dc=example,dc=com", "dir-ann");
	found_at("ann", "ou=people,dc=example,dc=com", "");
	ck_assert_int_eq(plan_found_users(), 0);
	ck_assert_str_eq(changes(), "update ann");
	ck_assert_uint_eq(p.sum.skipped, 1);
	ck_assert_ptr_nonnull(strstr(said, "skipped uid=ann,ou=people"));
	teardown();
}
END_TEST

/* ---- the deactivation guard ---- */

/* n active users of which `gone` are not found, with pct and force. */
static int guard(int n, int gone, int pct, bool force)
{
	start(false, pct, force, "");
	for (int i = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "u%02d", i);
		stored(name, true, false, false, false);
	}
	plan_accounts_done(&p);
	for (int i = gone; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "u%02d", i);
		found(name);
	}
	return plan_found_users();
}

START_TEST(the_guard_lets_five_go_whatever_the_percentage)
{
	ck_assert_int_eq(guard(10, 5, 0, false), 0);
	ck_assert_uint_eq(p.sum.deactivated, 5);
	teardown();
	ck_assert_int_eq(guard(10, 6, 0, false), -1);
	ck_assert_ptr_nonnull(strstr(said, "refused: 6 of 10 active imported users"));
	teardown();
}
END_TEST

START_TEST(the_guard_allows_exactly_the_percentage)
{
	/* 6 of 20 is 30%: allowed at 30, refused at 29 */
	ck_assert_int_eq(guard(20, 6, 30, false), 0);
	teardown();
	ck_assert_int_eq(guard(20, 6, 29, false), -1);
	ck_assert_ptr_nonnull(strstr(said, "maxDeactivationPercent (29%)"));
	teardown();
}
END_TEST

START_TEST(force_passes_the_guard_and_says_so)
{
	ck_assert_int_eq(guard(10, 9, 10, true), 0);
	ck_assert_uint_eq(p.sum.deactivated, 9);
	ck_assert_ptr_nonnull(strstr(said, "9 of 10 active imported users would go; force is set"));
	teardown();
}
END_TEST

/* ---- groups ---- */

static const struct plan_group devs = {"team-devs", "org-eng", "eng/devs", true, false};
static const struct plan_group open_team = {"team-open", "org-eng", "eng/open", true, true};
static const struct plan_group eng = {"org-eng", "org-eng", "eng", false, false};

/* The users, all found, with their plan made and indexed. */
static void everyone_found(bool jit, const char *target, const char *const *names, size_t n)
{
	start(jit, 10, false, target);
	for (size_t i = 0; i < n; i++)
		stored(names[i], true, false, false, false);
	plan_accounts_done(&p);
	for (size_t i = 0; i < n; i++)
		found(names[i]);
	ck_assert_int_eq(plan_users(&p), 0);
	ck_assert_int_eq(plan_index(&p), 0);
}

START_TEST(teams_get_the_members_their_group_names)
{
	static const char *const names[] = {"ann", "bob", "cat"};
	/* ann by DN, bob by username (memberUid); a DN nobody has is ignored */
	char *ann = ls_dn_key("uid=ann,ou=people,dc=example,dc=com");
	const struct plan_member wanted[] = {{ann, NULL}, {NULL, "bob"}, {"uid=zed,dc=x", NULL}};
	/* cat is in the team and no longer named; loc is a local account */
	const struct plan_current current[] = {{"id-cat", "cat", true, false},
					       {"id-loc", "loc", false, false},
					       {"id-bob", "bob", true, false}};

	everyone_found(false, "", names, 3);
	ck_assert_int_eq(plan_team(&p, &devs, wanted, 3, current, 3), 0);
	ck_assert_str_eq(changes(), "removeMember cat, removeMember loc, addMember ann");
	ck_assert_ptr_eq(p.changes[0].group, &devs);
	ck_assert_str_eq(p.changes[1].id, "id-loc");
	ck_assert_uint_eq(p.sum.members_added, 1);
	ck_assert_uint_eq(p.sum.members_removed, 2);
	ck_assert_uint_eq(p.sum.teams_synced, 1);
	teardown();
	free(ann);
}
END_TEST

/* Two spellings of one DN, as two paths through nested groups give: one member, added once. */
START_TEST(a_member_named_twice_counts_once)
{
	static const char *const names[] = {"ann", "bob"};
	char *ann = ls_dn_key("uid=ann,ou=people,dc=example,dc=com");
	char *again = ls_dn_key("UID=ann, ou=People,dc=example,dc=com");
	const struct plan_member wanted[] = {
	    {ann, NULL}, {again, NULL}, {NULL, "bob"}, {NULL, "bob"}};
	const struct plan_current current[] = {{"id-bob", "bob", true, false}};

	everyone_found(false, "", names, 2);
	ck_assert_int_eq(plan_team(&p, &devs, wanted, 4, current, 1), 0);
	ck_assert_str_eq(changes(), "addMember ann");
	ck_assert_uint_eq(p.sum.members_added, 1);
	teardown();
	start(false, 10, false, "");
	stored("ann", true, false, false, false);
	plan_accounts_done(&p);
	found("ann");
	ck_assert_int_eq(plan_users(&p), 0);
	ck_assert_int_eq(plan_index(&p), 0);
	ck_assert_int_eq(plan_admins(&p, wanted, 2), 0);
	ck_assert_str_eq(changes(), "promote ann");
	teardown();
	free(ann);
	free(again);
}
END_TEST

START_TEST(teams_that_allow_non_ldap_members_keep_them)
{
	static const char *const names[] = {"ann"};
	const struct plan_current current[] = {{"id-loc", "loc", false, false},
					       {"id-ann", "ann", true, false}};

	everyone_found(false, "", names, 1);
	ck_assert_int_eq(plan_team(&p, &open_team, NULL, 0, current, 2), 0);
	ck_assert_str_eq(changes(), "removeMember ann");
	teardown();
}
END_TEST

/* ---- the member-removal guard of a team ---- */

/* A team of n imported members (and `locals` local ones) whose group keeps all but `gone`. */
static int team_guard(int n, int gone, int locals, int pct, bool force)
{
	static char names[64][16];
	const char *list[64];
	struct plan_member wanted[64];
	struct plan_current current[128];
	static char local_ids[64][16], local_names[64][16];
	size_t nwanted = 0, ncurrent = 0;

	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "u%02d", i);
		list[i] = names[i];
	}
	start(false, pct, force, "");
	for (int i = 0; i < n; i++)
		stored(list[i], true, false, false, false);
	plan_accounts_done(&p);
	for (int i = 0; i < n; i++)
		found(list[i]);
	ck_assert_int_eq(plan_users(&p), 0);
	ck_assert_int_eq(plan_index(&p), 0);
	for (int i = 0; i < n; i++) {
		static char ids[64][16];

		snprintf(ids[i], sizeof(ids[i]), "id-%s", list[i]);
		current[ncurrent++] = (struct plan_current){ids[i], list[i], true, false};
		if (i >= gone)
			wanted[nwanted++] = (struct plan_member){NULL, list[i]};
	}
	for (int i = 0; i < locals; i++) {
		snprintf(local_ids[i], sizeof(local_ids[i]), "id-loc%02d", i);
		snprintf(local_names[i], sizeof(local_names[i]), "loc%02d", i);
		current[ncurrent++] =
		    (struct plan_current){local_ids[i], local_names[i], false, false};
	}
	return plan_team(&p, &devs, wanted, nwanted, current, ncurrent);
}

START_TEST(the_team_guard_lets_five_go_whatever_the_percentage)
{
	ck_assert_int_eq(team_guard(10, 5, 0, 0, false), 0);
	ck_assert_uint_eq(p.sum.members_removed, 5);
	ck_assert_str_eq(p.refused, "");
	teardown();
	ck_assert_int_eq(team_guard(10, 6, 0, 0, false), -1);
	ck_assert_ptr_nonnull(strstr(said, "refused: team eng/devs would lose 6 of its 10 LDAP "
					   "members, more than maxDeactivationPercent (0%)"));
	ck_assert_ptr_nonnull(strstr(p.refused, "team eng/devs"));
	teardown();
}
END_TEST

START_TEST(the_team_guard_allows_exactly_the_percentage)
{
	/* 6 of 20 is 30%: allowed at 30, refused at 29 */
	ck_assert_int_eq(team_guard(20, 6, 0, 30, false), 0);
	ck_assert_uint_eq(p.sum.members_removed, 6);
	teardown();
	ck_assert_int_eq(team_guard(20, 6, 0, 29, false), -1);
	ck_assert_ptr_nonnull(strstr(said, "maxDeactivationPercent (29%)"));
	teardown();
}
END_TEST

START_TEST(the_team_guard_counts_only_ldap_members_and_yields_to_force)
{
	/* ten local members go: they are not the directory's to guard */
	ck_assert_int_eq(team_guard(10, 0, 10, 0, false), 0);
	ck_assert_uint_eq(p.sum.members_removed, 10);
	teardown();
	ck_assert_int_eq(team_guard(10, 9, 0, 10, true), 0);
	ck_assert_uint_eq(p.sum.members_removed, 9);
	ck_assert_ptr_nonnull(
	    strstr(said, "team eng/devs: 9 of its 10 LDAP members would go; force is set"));
	teardown();
}
END_TEST

START_TEST(admins_follow_the_admin_group)
{
	static const char *const names[] = {"ann", "bob"};
	const struct plan_member wanted[] = {{NULL, "bob"}};

	start(false, 10, false, "");
	stored("ann", true, true, false, false);
	stored("bob", true, false, false, false);
	plan_accounts_done(&p);
	found("ann");
	found("bob");
	ck_assert_int_eq(plan_users(&p), 0);
	ck_assert_int_eq(plan_index(&p), 0);
	(void)names;
	ck_assert_int_eq(plan_admins(&p, wanted, 1), 0);
	ck_assert_str_eq(changes(), "demote ann, promote bob");
	ck_assert(!account("ann")->n_admin && account("bob")->n_admin);
	ck_assert_uint_eq(p.sum.admins_changed, 2);
	teardown();
}
END_TEST

START_TEST(org_admins_follow_their_group_and_locals_stay)
{
	static const char *const names[] = {"ann", "bob", "cat"};
	const struct plan_member wanted[] = {{NULL, "bob"}, {NULL, "cat"}};
	/* ann is an admin no longer named, bob a member now named, cat an admin still named,
	 * loc a local admin sync never touches */
	const struct plan_current current[] = {{"id-ann", "ann", true, true},
					       {"id-bob", "bob", true, false},
					       {"id-cat", "cat", true, true},
					       {"id-loc", "loc", false, true}};

	everyone_found(false, "", names, 3);
	ck_assert_int_eq(plan_org_admins(&p, &eng, wanted, 2, current, 4), 0);
	ck_assert_str_eq(changes(), "demoteOrgAdmin ann, promoteOrgAdmin bob");
	ck_assert_uint_eq(p.sum.admins_changed, 2);
	teardown();
}
END_TEST

START_TEST(the_last_admin_is_never_demoted_even_with_force)
{
	start(false, 10, true, "");
	stored("boss", true, true, false, false);
	plan_accounts_done(&p);
	found("boss");
	ck_assert_int_eq(plan_users(&p), 0);
	ck_assert_int_eq(plan_index(&p), 0);
	ck_assert_int_eq(plan_admins(&p, NULL, 0), 0);
	/* the store counts boss alone */
	ck_assert_int_eq(plan_admins_left(&p, 1), -1);
	ck_assert_ptr_nonnull(strstr(said, "refused: this sync would leave no active admin"));
	/* with a local admin besides, it may go */
	ck_assert_int_eq(plan_admins_left(&p, 2), 0);
	teardown();
}
END_TEST

/* A member named by the DN it was moved to is found by that DN in the same sync. */
START_TEST(a_moved_member_is_found_by_its_new_dn)
{
	char *moved = ls_dn_key("uid=ann,ou=moved,dc=example,dc=com");
	const struct plan_member wanted[] = {{moved, NULL}};

	start(false, 10, false, "");
	stored("ann", true, false, false, false);
	plan_accounts_done(&p);
	found_at("ann", "ou=moved,dc=example,dc=com", "dir-ann");
	ck_assert_int_eq(plan_users(&p), 0);
	ck_assert_int_eq(plan_index(&p), 0);
	ck_assert_int_eq(plan_team(&p, &devs, wanted, 1, NULL, 0), 0);
	ck_assert_str_eq(changes(), "update ann, addMember ann");
	teardown();
	free(moved);
}
END_TEST

/* After a first login, only that user's memberships change, and no account does. */
START_TEST(a_targeted_sync_changes_only_its_user)
{
	static const char *const names[] = {"ann", "bob"};
	const struct plan_member wanted[] = {{NULL, "ann"}, {NULL, "bob"}};
	const struct plan_current current[] = {{"id-cat", "cat", true, false}};

	start(true, 10, false, "ann");
	stored("ann", true, false, false, false);
	stored("bob", true, false, false, false);
	stored("cat", true, false, false, false);
	plan_accounts_done(&p);
	ck_assert_int_eq(plan_users(&p), 0);
	ck_assert_int_eq(plan_index(&p), 0);
	ck_assert_int_eq(plan_team(&p, &devs, wanted, 2, current, 1), 0);
	ck_assert_str_eq(changes(), "addMember ann");
	(void)names;
	teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sync-plan");

	unit_case(s, "users",
		  (const TTest *const[]){
		      unchanged_users_change_nothing, users_found_again_are_updated,
		      users_back_are_reactivated_only_from_what_sync_did,
		      new_users_are_created_only_with_jit_off, new_users_never_take_a_local_name,
		      users_gone_are_deactivated_with_jit_off,
		      users_gone_are_marked_missing_with_jit_on, NULL});
	unit_case(s, "ids",
		  (const TTest *const[]){a_moved_and_renamed_user_is_matched_by_its_id,
					 another_entry_of_the_same_name_is_not_merged,
					 accounts_without_an_id_are_matched_by_name_and_get_one,
					 an_id_is_never_given_twice, NULL});
	unit_case(s, "team-guard",
		  (const TTest *const[]){
		      the_team_guard_lets_five_go_whatever_the_percentage,
		      the_team_guard_allows_exactly_the_percentage,
		      the_team_guard_counts_only_ldap_members_and_yields_to_force, NULL});
	unit_case(s, "guard",
		  (const TTest *const[]){the_guard_lets_five_go_whatever_the_percentage,
					 the_guard_allows_exactly_the_percentage,
					 force_passes_the_guard_and_says_so, NULL});
	unit_case(s, "groups",
		  (const TTest *const[]){
		      teams_get_the_members_their_group_names, a_member_named_twice_counts_once,
		      teams_that_allow_non_ldap_members_keep_them, admins_follow_the_admin_group,
		      org_admins_follow_their_group_and_locals_stay,
		      the_last_admin_is_never_demoted_even_with_force,
		      a_moved_member_is_found_by_its_new_dn, a_targeted_sync_changes_only_its_user,
		      NULL});
	return unit_run(s, NULL);
}
