/*
 * The client bundle zip of SPEC §7.2, built in memory with libzip. The
 * private key passes through here once, on its way to the response; every
 * buffer that held it is zeroed before it is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include <zip.h>
#include <openssl/crypto.h>

#include "bundles.h"

struct entry {
	const char *name;
	const char *data;
	size_t len;
	unsigned mode; /* unix permissions, kept by unzip */
};

/* Copies the in-memory archive out of its source. */
static int read_source(zip_source_t *src, unsigned char **out, size_t *len)
{
	zip_int64_t size;

	if (zip_source_open(src) != 0)
		return -1;
	if (zip_source_seek(src, 0, SEEK_END) != 0 || (size = zip_source_tell(src)) < 0 ||
	    zip_source_seek(src, 0, SEEK_SET) != 0 || (*out = malloc((size_t)size + 1)) == NULL) {
		zip_source_close(src);
		return -1;
	}
	if (zip_source_read(src, *out, (zip_uint64_t)size) != size) {
		bdl_free_bytes(*out, (size_t)size);
		*out = NULL;
		zip_source_close(src);
		return -1;
	}
	*len = (size_t)size;
	zip_source_close(src);
	return 0;
}

static int add_entries(zip_t *za, const struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		zip_source_t *fs = zip_source_buffer(za, e[i].data, e[i].len, 0);
		zip_int64_t idx;

		if (fs == NULL)
			return -1;
		idx = zip_file_add(za, e[i].name, fs, ZIP_FL_ENC_UTF_8);
		if (idx < 0) {
			zip_source_free(fs);
			return -1;
		}
		/*
		 * Stored, not deflated: a bundle is a few KiB of base64 that barely
		 * shrinks, and a deflate stream per file costs more than the signing.
		 */
		if (zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_STORE, 0) != 0 ||
		    zip_file_set_external_attributes(za, (zip_uint64_t)idx, 0, ZIP_OPSYS_UNIX,
						     (zip_uint32_t)(0100000 | e[i].mode) << 16) !=
			0)
			return -1;
	}
	return 0;
}

/* A zip of `n` entries with `comment` (may be NULL), in malloc'd memory. */
static int build_zip(const struct entry *e, size_t n, const char *comment, unsigned char **out,
		     size_t *len, struct failure *err)
{
	zip_error_t ze;
	zip_source_t *src;
	zip_t *za;
	int rc = -1;

	zip_error_init(&ze);
	src = zip_source_buffer_create(NULL, 0, 0, &ze);
	if (src == NULL)
		goto out;
	zip_source_keep(src);
	za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
	if (za == NULL)
		goto out;
	if (add_entries(za, e, n) != 0 ||
	    (comment && zip_set_archive_comment(za, comment, (zip_uint16_t)strlen(comment)) != 0)) {
		zip_discard(za);
		goto out;
	}
	if (zip_close(za) != 0) {
		zip_discard(za);
		goto out;
	}
	rc = read_source(src, out, len);
out:
	if (rc != 0)
		failure_set(err, "writing the bundle zip failed");
	zip_source_free(src);
	zip_error_fini(&ze);
	return rc;
}

/* Text built with open_memstream; NULL on failure. */
struct text {
	char *buf;
	size_t len;
	FILE *f;
};

static int text_open(struct text *t)
{
	t->buf = NULL;
	t->len = 0;
	t->f = open_memstream(&t->buf, &t->len);
	return t->f ? 0 : -1;
}

static int text_close(struct text *t)
{
	if (fclose(t->f) != 0) {
		free(t->buf);
		t->buf = NULL;
		return -1;
	}
	return 0;
}

/* Config values in script comments stay on one line. */
static void print_clean(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
}

static void engine_comments(FILE *f, const struct bdl_bundle *b, const char *lead, const char *eol)
{
	if (strcmp(b->scope, "admin") != 0 || b->n_engine_hosts == 0)
		return;
	fprintf(f, "%s Engines this admin bundle may also reach directly:%s", lead, eol);
	for (size_t i = 0; i < b->n_engine_hosts; i++) {
		fprintf(f, "%s   ", lead);
		print_clean(f, b->engine_hosts[i]);
		fputs(eol, f);
	}
}

/* The host inside shell single quotes: ' cannot occur in a URL we accept, but be safe. */
static void sh_quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
	}
	fputc('\'', f);
}

static char *env_sh(const struct bdl_bundle *b)
{
	struct text t;

	if (text_open(&t) != 0)
		return NULL;
	fputs("# Client bundle for ", t.f);
	print_clean(t.f, b->account);
	fputs(". Run this command to configure your shell:\n# eval \"$(<env.sh)\"\n", t.f);
	engine_comments(t.f, b, "#", "\n");
	fputs("export DOCKER_TLS_VERIFY=1\nexport COMPOSE_TLS_VERSION=TLSv1_2\n"
	      "export DOCKER_CERT_PATH=\"$PWD\"\n",
	      t.f);
	if (b->docker_host[0] != '\0') {
		fputs("export DOCKER_HOST=", t.f);
		sh_quoted(t.f, b->docker_host);
		fputc('\n', t.f);
	} else {
		fputs("# bundle.dockerHost is not configured in authd: set DOCKER_HOST yourself\n",
		      t.f);
	}
	return text_close(&t) == 0 ? t.buf : NULL;
}

static char *env_ps1(const struct bdl_bundle *b)
{
	struct text t;

	if (text_open(&t) != 0)
		return NULL;
	fputs("# Client bundle. Run this script to configure your PowerShell session:\r\n"
	      "# . .\\env.ps1\r\n",
	      t.f);
	engine_comments(t.f, b, "#", "\r\n");
	fputs("$Env:DOCKER_TLS_VERIFY = \"1\"\r\n$Env:COMPOSE_TLS_VERSION = \"TLSv1_2\"\r\n"
	      "$Env:DOCKER_CERT_PATH = Split-Path $script:MyInvocation.MyCommand.Path\r\n",
	      t.f);
	if (b->docker_host[0] != '\0') {
		fputs("$Env:DOCKER_HOST = \"", t.f);
		print_clean(t.f, b->docker_host);
		fputs("\"\r\n", t.f);
	}
	return text_close(&t) == 0 ? t.buf : NULL;
}

static char *env_cmd(const struct bdl_bundle *b)
{
	struct text t;

	if (text_open(&t) != 0)
		return NULL;
	fputs("@echo off\r\nREM Client bundle. Run this script to configure your cmd.exe "
	      "session.\r\n",
	      t.f);
	engine_comments(t.f, b, "REM", "\r\n");
	fputs("set DOCKER_TLS_VERIFY=1\r\nset COMPOSE_TLS_VERSION=TLSv1_2\r\n"
	      "set DOCKER_CERT_PATH=%~dp0\r\n",
	      t.f);
	if (b->docker_host[0] != '\0') {
		fputs("set DOCKER_HOST=", t.f);
		print_clean(t.f, b->docker_host);
		fputs("\r\n", t.f);
	}
	return text_close(&t) == 0 ? t.buf : NULL;
}

static char *meta_json(const struct bdl_bundle *b)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "account", b->account, "label",
			      b->label, "keyID", b->key_id, "scope", b->scope, "notAfter",
			      b->not_after, "dockerHost", b->docker_host);
	char *s = j ? json_dumps(j, JSON_INDENT(2)) : NULL;

	json_decref(j);
	return s;
}

/* The metadata `docker context import` reads from a context archive. */
static char *context_meta(const struct bdl_bundle *b)
{
	json_t *j = json_pack("{s:s, s:{s:s}, s:{s:{s:s, s:b}}}", "Name", b->account, "Metadata",
			      "Description", b->label, "Endpoints", "docker", "Host",
			      b->docker_host, "SkipTLSVerify", 0);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	return s;
}

static int context_zip(const struct bdl_bundle *b, unsigned char **out, size_t *len,
		       struct failure *err)
{
	char *meta = context_meta(b);
	int rc = -1;

	if (meta != NULL) {
		const struct entry e[] = {
		    {"meta.json", meta, strlen(meta), 0644},
		    {"tls/docker/ca.pem", b->ca_pem, strlen(b->ca_pem), 0644},
		    {"tls/docker/cert.pem", b->cert_pem, strlen(b->cert_pem), 0644},
		    {"tls/docker/key.pem", b->key_pem, strlen(b->key_pem), 0600},
		};
		rc = build_zip(e, sizeof(e) / sizeof(e[0]), NULL, out, len, err);
	} else {
		failure_set(err, "out of memory");
	}
	free(meta);
	return rc;
}

int bdl_make_zip(const struct bdl_bundle *b, unsigned char **out, size_t *len, struct failure *err)
{
	char *sh = env_sh(b), *ps1 = env_ps1(b), *cmd = env_cmd(b), *meta = meta_json(b);
	unsigned char *ctx = NULL;
	size_t ctx_len = 0;
	int rc = -1;

	*out = NULL;
	if (sh == NULL || ps1 == NULL || cmd == NULL || meta == NULL)
		failure_set(err, "out of memory");
	else if (context_zip(b, &ctx, &ctx_len, err) == 0) {
		const struct entry e[] = {
		    {"ca.pem", b->ca_pem, strlen(b->ca_pem), 0644},
		    {"cert.pem", b->cert_pem, strlen(b->cert_pem), 0644},
		    {"key.pem", b->key_pem, strlen(b->key_pem), 0600},
		    {"cert.pub", b->pub_pem, strlen(b->pub_pem), 0644},
		    {"env.sh", sh, strlen(sh), 0644},
		    {"env.ps1", ps1, strlen(ps1), 0644},
		    {"env.cmd", cmd, strlen(cmd), 0644},
		    {"docker-context.zip", (const char *)ctx, ctx_len, 0600},
		    {"meta.json", meta, strlen(meta), 0644},
		};
		rc = build_zip(e, sizeof(e) / sizeof(e[0]), b->key_id, out, len, err);
	}
	free(sh);
	free(ps1);
	free(cmd);
	free(meta);
	bdl_free_bytes(ctx, ctx_len);
	return rc;
}
