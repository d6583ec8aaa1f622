/*
 * Change announcements. What each kind of change must reach:
 *   accounts             cached callers (their admin and active flags), the snapshot
 *   memberships, grants,
 *   roles, collections   the snapshot
 *   keys                 the key index, in place (one per bundle is too often to rebuild)
 *   settings             the cached LDAP settings
 *   sessions             the session cache forgets the ended ones
 *   session settings     the session cache, which ends what they end
 *   certs                the served certificate, read again from the store where
 *                        replicas share it (an upload on another replica)
 * The snapshot is rebuilt once, however many of its kinds one change has.
 */
#include "changes.h"
#include "authz/rbac.h"
#include "http/tls.h"
#include "ldap_config.h"
#include "session.h"

#define SNAPSHOT_KINDS                                                                             \
	(CHANGE_ACCOUNTS | CHANGE_MEMBERSHIPS | CHANGE_GRANTS | CHANGE_ROLES | CHANGE_COLLECTIONS)

void changes_announce(struct server *srv, const struct change *c)
{
	if (c->what & CHANGE_SESSIONS) {
		/* first, so that no request still finds an ended session while the rest runs */
		if (c->session != NULL)
			session_forget(srv->sessions, c->session);
		if (c->account != NULL)
			session_forget_account(srv->sessions, c->account, c->keep);
	}
	if (c->what & CHANGE_SESSION_SETTINGS)
		sessions_configure(srv->sessions, c->session_settings);
	if (c->what & CHANGE_KEYS) {
		if (c->key_added != NULL)
			rbac_key_added(srv->rbac, c->key_added);
		if (c->key_removed != NULL)
			rbac_key_removed(srv->rbac, c->key_removed);
	}
	if (c->what & CHANGE_SETTINGS)
		ldap_config_changed(srv);
	if (c->what & CHANGE_ACCOUNTS)
		sessions_accounts_changed(srv->sessions);
	if (c->what & SNAPSHOT_KINDS)
		rbac_refresh(srv->rbac);
	if (c->what & CHANGE_CERTS)
		tls_reload_served(srv->cfg, srv->store_key, srv->tls);
}
