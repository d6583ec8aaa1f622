/*
 * The forms of the API's JSON bodies, one table per body, and the list of
 * them all, so that the fuzzer and the unit tests check the tables the
 * handlers check bodies against rather than copies of them.
 */
#include "api.h"

/* POST /auth/login */
const struct field form_login[] = {
    {"username", F_STRING, true}, {"password", F_STRING, true}, {NULL, 0, false}};

/* POST /enzi/v0/accounts */
const struct field form_account_create[] = {{"name", F_STRING, true},
					    {"fullName", F_STRING, false},
					    {"isOrg", F_BOOL, false},
					    {"isAdmin", F_BOOL, false},
					    {"isActive", F_BOOL, false},
					    {"password", F_STRING, false},
					    {NULL, 0, false}};

/* PATCH /enzi/v0/accounts/{} */
const struct field form_account_patch[] = {{"fullName", F_STRING, false},
					   {"isAdmin", F_BOOL, false},
					   {"isActive", F_BOOL, false},
					   {NULL, 0, false}};

/* POST /enzi/v0/accounts/{}/changePassword */
const struct field form_account_password[] = {
    {"oldPassword", F_STRING, false}, {"newPassword", F_STRING, true}, {NULL, 0, false}};

/* PUT of an organization's or a team's member: the body is optional */
const struct field form_member_put[] = {{"isAdmin", F_BOOL, false}, {NULL, 0, false}};

/* POST and PATCH of a team: the two differ only in whether name is required */
const struct field form_team_create[] = {
    {"name", F_STRING, true}, {"description", F_STRING, false}, {NULL, 0, false}};
const struct field form_team_patch[] = {
    {"name", F_STRING, false}, {"description", F_STRING, false}, {NULL, 0, false}};

/* POST and PATCH of a user's public key */
const struct field form_key_add[] = {
    {"label", F_STRING, false}, {"certificate", F_STRING, true}, {NULL, 0, false}};
const struct field form_key_patch[] = {{"label", F_STRING, true}, {NULL, 0, false}};

/* POST /roles: operations is checked by the role rules (roles_check_operations) */
const struct field form_role_create[] = {{"name", F_STRING, true},
					 {"system_role", F_BOOL, false},
					 {"operations", F_ANY, false},
					 {"id", F_STRING, false},
					 {NULL, 0, false}};

/* POST /collections */
const struct field form_collection_create[] = {
    {"name", F_STRING, true}, {"parent_id", F_STRING, true}, {NULL, 0, false}};

/* PUT /enzi/v0/config/auth: sessions is checked against form_auth_sessions */
const struct field form_auth_config_put[] = {{"backend", F_STRING, false},
					     {"defaultNewUserRole", F_STRING, false},
					     {"sessions", F_OBJECT, false},
					     {NULL, 0, false}};

/* PUT /enzi/v0/config/auth's sessions: the ranges are the session settings' own */
const struct field form_auth_sessions[] = {{"lifetimeMinutes", F_INT, false},
					   {"renewalThresholdMinutes", F_INT, false},
					   {"perUserLimit", F_INT, false},
					   {NULL, 0, false}};

/* POST /enzi/v0/config/auth/ldap/tryLogin: ldapSettings is checked as the LDAP settings are */
const struct field form_ldap_try_login[] = {{"username", F_STRING, true},
					    {"password", F_STRING, true},
					    {"ldapSettings", F_ANY, false},
					    {NULL, 0, false}};

/* POST /enzi/v0/jobs */
const struct field form_job_create[] = {{"action", F_STRING, true},
					{"dryRun", F_BOOL, false},
					{"force", F_BOOL, false},
					{NULL, 0, false}};

/* POST /api/authz */
const struct field form_authz_request[] = {
    {"certificate", F_STRING, false}, {"account", F_STRING, false}, {"method", F_STRING, true},
    {"uri", F_STRING, true},	      {"body", F_STRING, false},    {NULL, 0, false}};

/* PUT /api/config/certs */
const struct field form_certs_put[] = {
    {"ca", F_STRING, true}, {"cert", F_STRING, true}, {"key", F_STRING, true}, {NULL, 0, false}};

const struct api_form api_forms[] = {
    {"login", form_login},
    {"account create", form_account_create},
    {"account patch", form_account_patch},
    {"account password", form_account_password},
    {"member put", form_member_put},
    {"team create", form_team_create},
    {"team patch", form_team_patch},
    {"key add", form_key_add},
    {"key patch", form_key_patch},
    {"role create", form_role_create},
    {"collection create", form_collection_create},
    {"auth config put", form_auth_config_put},
    {"auth config sessions", form_auth_sessions},
    {"ldap try login", form_ldap_try_login},
    {"job create", form_job_create},
    {"authz request", form_authz_request},
    {"certs put", form_certs_put},
};

const size_t api_nforms = sizeof(api_forms) / sizeof(api_forms[0]);
