/*
 * The unit test programs' shared ending (unit.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "unit.h"

void unit_case(Suite *s, const char *name, const TTest *const *tests)
{
	TCase *tc = tcase_create(name);

	for (; *tests != NULL; tests++)
		tcase_add_test(tc, *tests);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
}

int unit_run(Suite *s, const char *scratch)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (scratch != NULL) {
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", scratch);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", scratch);
	}
	return failed ? 1 : 0;
}
