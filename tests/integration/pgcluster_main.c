/*
 * The tests' PostgreSQL cluster as a command, for the suites that are not C
 * (the web page's run.sh): prints the DSN of a new database on its first
 * line, and stops the cluster when its standard input closes, however its
 * caller ends. Exits 77 where PostgreSQL is not installed.
 *   it_pgcluster
 */
#include <stdio.h>

#include "harness.h"
#include "pgcluster.h"

int main(void)
{
	char dsn[IT_PATH_LEN], buf[256];

	if (it_pg_start() != 0 || it_pg_database(dsn, sizeof(dsn)) != 0)
		return 1;
	printf("%s\n", dsn);
	fflush(stdout);
	while (fread(buf, 1, sizeof(buf), stdin) > 0)
		;
	it_pg_stop();
	return 0;
}
