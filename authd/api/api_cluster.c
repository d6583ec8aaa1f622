/*
 * GET /api/cluster, for admins: the replicas on this store seen within the
 * last hour (cluster.c), and which of them answered.
 */
#include "api.h"
#include "cluster.h"

void api_cluster(struct req *r, struct resp *out)
{
	json_t *replicas = NULL, *body;
	int rc;

	if (!r->who.is_admin) {
		resp_forbidden(out);
		return;
	}
	rc = cluster_list(r->srv, &replicas);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	body = json_pack("{s:s, s:o}", "answeredBy", r->srv->replica, "replicas", replicas);
	if (body == NULL) {
		resp_internal(out);
		return;
	}
	resp_json(out, 200, body);
}
