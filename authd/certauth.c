/*
 * Client-certificate authentication (SPEC §7.3). A bundle certificate is
 * honoured only while its key is in the store, it chains to one of authd's
 * CAs and has not expired, its account is active and not missing from LDAP,
 * and its CN is the account's name. Deleting the key row is revocation: the
 * next request looks the key up again and finds nothing.
 */
#include <stdio.h>
#include <string.h>

#include "bundles.h"
#include "certauth.h"
#include "store.h"
#include "tls.h"

int certauth_check(const struct tls_material *tls, X509 *cert, struct principal *who,
		   char key_id[ID_LEN], char *why, size_t whylen)
{
	char fp[65], cn[NAME_LEN], e[BDL_ERRLEN];
	struct pubkey k;
	struct account a;
	int rc;

	if (bdl_cert_fingerprint(cert, fp) != 0) {
		snprintf(why, whylen, "the certificate cannot be read");
		return -1;
	}
	rc = store_key_by_fingerprint(fp, &k);
	if (rc != STORE_OK) {
		snprintf(why, whylen,
			 rc == STORE_NOT_FOUND
			     ? "the certificate's key was revoked or never issued here"
			     : "the key store cannot be read");
		return -1;
	}
	if (bdl_verify_client_cert(tls->client_trust, cert, cn, sizeof(cn), e) != 0) {
		snprintf(why, whylen, "%s", e);
		return -1;
	}
	rc = store_account_get(k.account_id, &a);
	if (rc != STORE_OK || a.is_org) {
		snprintf(why, whylen, "the certificate's account no longer exists");
		return -1;
	}
	if (!a.is_active || a.ldap_missing) {
		snprintf(why, whylen, "the account \"%s\" is %s", a.name,
			 a.is_active ? "missing from LDAP" : "inactive");
		return -1;
	}
	if (strcmp(cn, a.name) != 0) {
		snprintf(why, whylen, "the certificate's CN does not name its account");
		return -1;
	}
	snprintf(who->id, sizeof(who->id), "%s", a.id);
	snprintf(who->name, sizeof(who->name), "%s", a.name);
	who->is_admin = a.is_admin;
	snprintf(key_id, ID_LEN, "%s", k.id);
	return 0;
}
