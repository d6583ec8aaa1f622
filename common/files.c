/*
 * Whole-file reads, and writes that readers never see half done: for
 * certificates, keys, secrets and logs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

char *file_read(const char *path, size_t max, size_t *len, struct failure *err)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		failure_set(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	buf = malloc(max + 1);
	if (buf == NULL) {
		fclose(f);
		failure_set(err, "%s: out of memory", path);
		return NULL;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		failure_set(err, "%s: %s", path, n > max ? "file too large" : "read error");
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

int file_write(const char *path, const char *data, size_t len, int mode, struct failure *err)
{
	char tmp[4096];
	int fd;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= sizeof(tmp)) {
		failure_set(err, "path too long");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		failure_set(err, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	/* open() applies the umask; the mode asked for is the mode we want. */
	if (fchmod(fd, (mode_t)mode) != 0 || write(fd, data, len) != (ssize_t)len ||
	    fsync(fd) != 0) {
		failure_set(err, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		failure_set(err, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}
