/*
 * The operational log on stderr: one line per event, with a level. Secrets
 * never reach it; callers pass names and ids, not passwords or tokens.
 */
#include <stdio.h>
#include <string.h>

#include "authd.h"

/* Set once at start-up, before any thread exists. */
static enum log_level min_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *name, enum log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char when[32], line[2048];
	va_list ap;

	if (level < min_level)
		return;
	format_time(now_seconds(), when, sizeof(when));
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s %s %s\n", when, level_names[level], line);
}
