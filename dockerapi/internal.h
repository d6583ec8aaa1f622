/*
 * dockerapi's own header: what its files share with each other and with
 * nothing outside the library.
 */
#ifndef AUTHD_DOCKERAPI_INTERNAL_H
#define AUTHD_DOCKERAPI_INTERNAL_H

#include <stdbool.h>

#define ACCESS_LABEL "com.docker.ucp.access.label"

/*
 * Whether key equals name, ASCII text, as Go's strings.EqualFold compares
 * them (and so its JSON decoder, field names): without regard to case,
 * with the Kelvin sign folding to "k" and the long s to "s".
 */
bool dk_fold_equal(const char *key, const char *name);

#endif
