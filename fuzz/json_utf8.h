/*
 * Whether an answer lost its JSON body to the known invalid-UTF-8 finding
 * (fuzz/README.md), so targets can tell it from new ones. Needs --wrap=json_pack.
 */
#ifndef AUTHD_FUZZ_JSON_UTF8_H
#define AUTHD_FUZZ_JSON_UTF8_H

#include <stdbool.h>

/* Forgets earlier refusals; call before the code under test. */
void json_utf8_reset(void);
/* Whether json_pack refused a string as invalid UTF-8 since the last reset. */
bool json_utf8_refused(void);

#endif
