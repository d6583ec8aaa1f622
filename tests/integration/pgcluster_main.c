/*
 * The tests' PostgreSQL cluster as a command, for the suites that are not C
 * (the web page's run.sh): prints the DSN of a new database on its first
 * line, and stops the cluster when its standard input closes, however its
 * caller ends. Exits 77 where PostgreSQL is not installed. Its arguments are
 * server settings (it_pg_settings), for the benchmarks.
 *   it_pgcluster [-c NAME=VALUE]...
 */
#include <stdio.h>

#include "harness.h"
#include "pgcluster.h"

int main(int argc, char **argv)
{
	char dsn[IT_PATH_LEN], buf[256], options[512] = "";
	size_t len = 0;

	for (int i = 1; i < argc && len < sizeof(options); i++)
		len += (size_t)snprintf(options + len, sizeof(options) - len, "%s%s",
					i > 1 ? " " : "", argv[i]);
	if (len >= sizeof(options)) {
		fprintf(stderr, "it_pgcluster: settings too long\n");
		return 2;
	}
	it_pg_settings(options);
	if (it_pg_start() != 0 || it_pg_database(dsn, sizeof(dsn)) != 0)
		return 1;
	printf("%s\n", dsn);
	fflush(stdout);
	while (fread(buf, 1, sizeof(buf), stdin) > 0)
		;
	it_pg_stop();
	return 0;
}
