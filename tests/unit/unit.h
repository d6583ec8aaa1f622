/*
 * What the unit test programs share: a test case made of a list of tests,
 * and the run that ends each program.
 */
#ifndef AUTHD_TESTS_UNIT_H
#define AUTHD_TESTS_UNIT_H

#include <check.h>

/* Adds a test case of the NULL-terminated tests, each allowed 60 s. */
void unit_case(Suite *s, const char *name, const TTest *const *tests);
/* Runs the suite, removes the scratch folder (when not NULL), and answers the exit status. */
int unit_run(Suite *s, const char *scratch);

#endif
