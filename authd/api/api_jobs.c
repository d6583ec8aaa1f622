/*
 * The eNZi jobs API (SPEC §6.5): start an LDAP sync (or a dry run), list
 * jobs, read one and its log, cancel it. Admins only: a sync changes every
 * imported account.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "sync/jobs.h"

#define JOBS_PAGE_MAX 100

static bool admin_only(struct req *r, struct resp *out)
{
	if (r->who.is_admin)
		return true;
	resp_forbidden(out);
	return false;
}

void api_job_create(struct req *r, struct resp *out)
{
	struct job j;
	int rc;

	if (!admin_only(r, out) || form_check(r->body, form_job_create, out) != 0)
		return;
	if (strcmp(form_string(r->body, "action", ""), JOB_ACTION_LDAP_SYNC) != 0) {
		resp_refuse(out, "action", "action: must be %s", JOB_ACTION_LDAP_SYNC);
		return;
	}
	rc = jobs_submit(r->srv->jobs, form_bool(r->body, "dryRun", false),
			 form_bool(r->body, "force", false), "", &j);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	audit_log(r->srv->audit, "ldap.sync.start", r->who.name, r->client,
		  json_pack("{s:s, s:b, s:b}", "job", j.id, "dryRun", j.dry_run, "force", j.force));
	resp_json(out, 202, job_json(&j));
}

struct job_page {
	json_t *items;
	int limit, seen;
	char next[ID_LEN];
};

static int add_job(const struct job *j, void *ctx)
{
	struct job_page *p = ctx;

	if (p->seen++ == p->limit) {
		snprintf(p->next, sizeof(p->next), "%s", j->id);
		return 1;
	}
	json_array_append_new(p->items, job_json(j));
	return 0;
}

void api_jobs_list(struct req *r, struct resp *out)
{
	const char *action = req_query(r, "action"), *start = req_query(r, "start");
	const char *limit = req_query(r, "limit");
	struct job_page p = {json_array(), 10, 0, ""};
	char *end = NULL;
	int rc;

	if (!admin_only(r, out))
		goto done;
	if (limit != NULL) {
		long n = strtol(limit, &end, 10);

		if (*limit == '\0' || *end != '\0' || n < 1 || n > JOBS_PAGE_MAX) {
			resp_refuse(out, "limit", "limit: must be 1 to %d", JOBS_PAGE_MAX);
			goto done;
		}
		p.limit = (int)n;
	}
	rc = store_jobs(action ? action : "", start ? start : "", p.limit + 1, add_job, &p);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		goto done;
	}
	if (p.next[0] != '\0')
		resp_header(out, "X-Next-Page-Start", "%s", p.next);
	resp_json(out, 200, json_pack("{s:O, s:s}", "jobs", p.items, "nextPageStart", p.next));
done:
	json_decref(p.items);
}

/* Loads the job of params[0]; -1 with `out` filled when there is none. */
static int load_job(struct req *r, struct resp *out, struct job *j)
{
	int rc;

	if (!admin_only(r, out))
		return -1;
	rc = store_job_get(r->params[0], j);
	if (rc == STORE_OK)
		return 0;
	if (rc == STORE_NOT_FOUND)
		resp_not_found(out, "job", r->params[0]);
	else
		resp_store_failed(out, rc);
	return -1;
}

void api_job_get(struct req *r, struct resp *out)
{
	struct job j;

	if (load_job(r, out, &j) != 0)
		return;
	resp_json(out, 200, job_json(&j));
	job_free_texts(&j);
}

void api_job_logs(struct req *r, struct resp *out)
{
	struct job j;
	size_t len = 0;
	char *text = NULL;
	int rc;

	if (load_job(r, out, &j) != 0)
		return;
	job_free_texts(&j);
	/* whichever replica ran it, or runs it: the store has what it wrote so far, which is ""
	 * for a job that has not started */
	rc = store_job_log_read(j.id, &text, &len);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	out->status = 200;
	out->text = text;
	out->type = "text/plain; charset=utf-8";
}

void api_job_cancel(struct req *r, struct resp *out)
{
	struct job j;
	int rc;

	if (!admin_only(r, out))
		return;
	rc = jobs_cancel(r->srv->jobs, r->params[0]);
	if (rc == STORE_NOT_FOUND) {
		resp_not_found(out, "job", r->params[0]);
		return;
	}
	if (rc == STORE_CONFLICT) {
		resp_error(out, 409, "CONFLICT", NULL, "the job has finished already");
		return;
	}
	if (rc == STORE_OK)
		rc = store_job_get(r->params[0], &j);
	if (rc != STORE_OK) {
		resp_store_failed(out, rc);
		return;
	}
	audit_log(r->srv->audit, "ldap.sync.cancel", r->who.name, r->client,
		  json_pack("{s:s}", "job", j.id));
	resp_json(out, 202, job_json(&j));
	job_free_texts(&j);
}
