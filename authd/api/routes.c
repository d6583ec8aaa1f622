/*
 * The routing tables: every route of the HTTPS API with its handler, and
 * the engine plugin protocol's. http.c serves whichever table it is given;
 * `authd routes` prints the first, and the authorization matrix test reads
 * it from there.
 */
#include <stdio.h>

#include "api.h"

#define A "/enzi/v0/accounts"
const struct route api_routes[] = {
    {"GET", "/_ping", api_ping, 0},
    {"GET", "/ca", api_ca, 0},
    {"GET", "/", api_web_index, 0},
    {"GET", "/web/{}", api_web_file, 0},
    {"POST", "/auth/login", api_login, R_BODY},
    {"POST", "/auth/logout", api_logout, R_AUTH},

    {"GET", A, api_accounts_list, R_AUTH},
    {"POST", A, api_account_create, R_AUTH | R_BODY},
    {"GET", A "/{}", api_account_get, R_AUTH},
    {"PATCH", A "/{}", api_account_patch, R_AUTH | R_BODY},
    {"DELETE", A "/{}", api_account_delete, R_AUTH},
    {"POST", A "/{}/changePassword", api_account_change_password, R_AUTH | R_BODY},
    {"GET", A "/{}/organizations", api_user_orgs, R_AUTH},
    {"GET", A "/{}/members", api_org_members, R_AUTH},
    {"GET", A "/{}/members/{}", api_org_member_get, R_AUTH},
    {"PUT", A "/{}/members/{}", api_org_member_put, R_AUTH | R_BODY | R_BODY_OPTIONAL},
    {"DELETE", A "/{}/members/{}", api_org_member_delete, R_AUTH},
    {"GET", A "/{}/teams", api_teams_list, R_AUTH},
    {"POST", A "/{}/teams", api_team_create, R_AUTH | R_BODY},
    {"GET", A "/{}/teams/{}", api_team_get, R_AUTH},
    {"PATCH", A "/{}/teams/{}", api_team_patch, R_AUTH | R_BODY},
    {"DELETE", A "/{}/teams/{}", api_team_delete, R_AUTH},
    {"GET", A "/{}/teams/{}/members", api_team_members, R_AUTH},
    {"GET", A "/{}/teams/{}/members/{}", api_team_member_get, R_AUTH},
    {"PUT", A "/{}/teams/{}/members/{}", api_team_member_put, R_AUTH | R_BODY | R_BODY_OPTIONAL},
    {"DELETE", A "/{}/teams/{}/members/{}", api_team_member_delete, R_AUTH},
    {"GET", A "/{}/teams/{}/memberSyncConfig", api_team_sync_get, R_AUTH},
    {"PUT", A "/{}/teams/{}/memberSyncConfig", api_team_sync_put, R_AUTH | R_BODY},
    {"GET", A "/{}/adminMemberSyncConfig", api_org_admin_sync_get, R_AUTH},
    {"PUT", A "/{}/adminMemberSyncConfig", api_org_admin_sync_put, R_AUTH | R_BODY},
    {"GET", A "/{}/publicKeys", api_keys_list, R_AUTH},
    {"POST", A "/{}/publicKeys", api_key_add, R_AUTH | R_BODY},
    {"GET", A "/{}/publicKeys/{}", api_key_get, R_AUTH},
    {"PATCH", A "/{}/publicKeys/{}", api_key_patch, R_AUTH | R_BODY},
    {"DELETE", A "/{}/publicKeys/{}", api_key_delete, R_AUTH},

    {"GET", "/api/clientbundle", api_clientbundle, R_AUTH},
    {"POST", "/api/clientbundle", api_clientbundle, R_AUTH},
    {"GET", "/roles", api_roles_list, R_AUTH},
    {"POST", "/roles", api_role_create, R_AUTH | R_BODY},
    {"GET", "/roles/{}", api_role_get, R_AUTH},
    {"DELETE", "/roles/{}", api_role_delete, R_AUTH},
    {"GET", "/collections", api_collections_list, R_AUTH},
    {"POST", "/collections", api_collection_create, R_AUTH | R_BODY},
    {"GET", "/collections/{}", api_collection_get, R_AUTH},
    {"DELETE", "/collections/{}", api_collection_delete, R_AUTH},
    {"GET", "/collections/{}/children", api_collection_children, R_AUTH},
    {"GET", "/collectionByPath", api_collection_by_path, R_AUTH},
    {"GET", "/collectionGrants", api_grants_list, R_AUTH},
    {"PUT", "/collectionGrants/{}/{}/{}", api_grant_put, R_AUTH},
    {"DELETE", "/collectionGrants/{}/{}/{}", api_grant_delete, R_AUTH},
    {"GET", "/enzi/v0/config/auth", api_auth_config_get, R_AUTH},
    {"PUT", "/enzi/v0/config/auth", api_auth_config_put, R_AUTH | R_BODY},
    {"GET", "/enzi/v0/config/auth/ldap", api_ldap_get, R_AUTH},
    {"PUT", "/enzi/v0/config/auth/ldap", api_ldap_put, R_AUTH | R_BODY},
    {"POST", "/enzi/v0/config/auth/ldap/tryLogin", api_ldap_try_login, R_AUTH | R_BODY},
    {"POST", "/enzi/v0/jobs", api_job_create, R_AUTH | R_BODY},
    {"GET", "/enzi/v0/jobs", api_jobs_list, R_AUTH},
    {"GET", "/enzi/v0/jobs/{}", api_job_get, R_AUTH},
    {"GET", "/enzi/v0/jobs/{}/logs", api_job_logs, R_AUTH},
    {"POST", "/enzi/v0/jobs/{}/cancel", api_job_cancel, R_AUTH | R_BODY | R_BODY_OPTIONAL},
    {"GET", "/api/ucp/config/auth/ldap", api_ldap_get, R_AUTH},
    {"PUT", "/api/ucp/config/auth/ldap", api_ldap_put, R_AUTH | R_BODY},
    {"POST", "/api/authz", api_authz, R_AUTH | R_BODY},
    {"GET", "/metrics", api_metrics, R_AUTH},
    {"GET", "/api/audit", api_audit_list, R_AUTH},
    {"GET", "/api/cluster", api_cluster, R_AUTH},
    {"GET", "/api/config/certs", api_certs_get, R_AUTH},
    {"PUT", "/api/config/certs", api_certs_put, R_AUTH | R_BODY},
};
#undef A

/* The engine authorization plugin protocol, on authz.socket and authz.listen (SPEC §8.1). */
const struct route plugin_routes[] = {
    {"POST", "/Plugin.Activate", api_plugin_activate, 0},
    {"POST", "/AuthZPlugin.AuthZReq", api_plugin_authz_req, R_BODY},
    {"POST", "/AuthZPlugin.AuthZRes", api_plugin_authz_res, R_BODY},
};

const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);
const size_t plugin_nroutes = sizeof(plugin_routes) / sizeof(plugin_routes[0]);

void api_routes_print(FILE *f)
{
	for (size_t i = 0; i < api_nroutes; i++)
		fprintf(f, "%s %s\n", api_routes[i].method, api_routes[i].pattern);
}
